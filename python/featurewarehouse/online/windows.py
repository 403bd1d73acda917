"""A rolling view's windows at request time: the state the sync stores per key, and the read.

The online value of a window feature at request time ``t`` is the window aggregate over the
key's source rows in ``[t - d, t]`` (exclusive views: ``[t - d, t)``), the value the PIT join
gives a spine row at ``t`` (docs/rolling-windows.md, "Online values"). The stored row is the
view's latest, at instant ``L``: its values are the windows at ``L``. For ``t > L`` the read
combines the key's *window state*, which the sync computes in the warehouse
(:mod:`featurewarehouse.online.window_sql`) and stores beside the features in one text
column (``STATE_COL``):

    [[o, ...], [v, ...],  ...,  w, ...]

per aggregated value in the spec's order (:func:`~featurewarehouse.online.window_sql.state_parts`;
values with the same expression share one list): when it has a finite window, the offsets
``o = L - ts`` (epoch microseconds) of its non-NULL values within its longest window and
the values, newest first (ties: greatest value first), so a window ``d`` at ``t`` holds
the first ``bisect_right(o, d - (t - L))`` of them; when the view is exclusive and has a
lifetime window over it, the aggregate ``w`` over all of the key's rows. It is JSON
(``json.loads`` in C decodes it in microseconds), built with Arrow kernels at sync time.
Values are JSON numbers, strings and booleans; timestamps and dates are epoch microseconds.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from json import loads
from typing import Any, Callable, Sequence

from featurewarehouse.online.base import STATE_COL, TS_COL, ViewLayout
from featurewarehouse.online.keys import from_micros, timestamp_micros
from featurewarehouse.online.window_sql import state_parts


# ---- sync: the state column, with Arrow kernels ----------------------------------------------

def _json_values(flat: Any) -> Any:
    """Arrow values as JSON text each (NULL stays NULL)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = flat.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return pc.cast(timestamp_micros(flat), pa.string())
    if pa.types.is_decimal(t):
        flat, t = pc.cast(flat, pa.float64()), pa.float64()
    if pa.types.is_floating(t):
        text = pc.cast(pc.cast(flat, pa.float64()), pa.string())
        # Arrow spells them nan/inf; JSON (as Python reads it) NaN/Infinity
        for arrow, json_ in (("nan", "NaN"), ("inf", "Infinity"), ("-inf", "-Infinity")):
            text = pc.if_else(pc.equal(text, arrow), json_, text)
        return text
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return pc.cast(flat, pa.string())
    text = pc.cast(flat, pa.string())
    # JSON strings: the decoder reads control characters as they are (strict=False)
    text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    return pc.binary_join_element_wise('"', text, '"', "")


def _json_lists(lists: Any, transform: Callable[[Any, Any], Any]) -> Any:
    """Each list as a JSON array text (a NULL list: ``[]``); ``transform(flat values, parent row)``
    turns the flattened values into JSON text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    text = pa.ListArray.from_arrays(offsets, transform(flat, parents))
    joined = pc.fill_null(pc.binary_join(text, ","), "")
    return pc.binary_join_element_wise("[", joined, "]", "")


def add_state(layout: ViewLayout, batch: Any) -> Any:
    """The batch of a rolling view's sync with its ``__wt/__wv/__wl`` columns (window_sql) encoded
    into ``STATE_COL``. ``TS_COL`` is already epoch micros (sync._prepare_batch)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spec = layout.rolling
    names = batch.schema.names
    latest = batch.column(TS_COL)

    def offsets(flat: Any, parents: Any) -> Any:
        return pc.cast(pc.subtract(pc.take(latest, parents), timestamp_micros(flat)), pa.string())

    parts: list[Any] = []
    for kind, i, _ in state_parts(spec).parts:
        if kind == "events":
            parts.append(_json_lists(batch.column(f"__wt{i}"), offsets))
            parts.append(_json_lists(batch.column(f"__wv{i}"), lambda flat, _: _json_values(flat)))
        else:
            parts.append(pc.fill_null(_json_values(batch.column(f"__wl{i}")), "null"))
    if parts:
        state = pc.binary_join_element_wise("[", pc.binary_join_element_wise(*parts, ","), "]", "")
    else:
        state = pa.array(["[]"] * batch.num_rows, pa.string())
    keep = [i for i, n in enumerate(names) if not n.startswith(("__wt", "__wv", "__wl"))]
    return pa.RecordBatch.from_arrays([batch.column(i) for i in keep] + [state],
                                      [names[i] for i in keep] + [STATE_COL])


# ---- read: the windows at t ----------------------------------------------------------------

def _stddev(vals: Sequence[Any]) -> float:
    n = len(vals)
    mean = math.fsum(vals) / n
    return math.sqrt(math.fsum([(x - mean) ** 2 for x in vals]) / (n - 1))


# agg -> f(values newest first, how many are in the window)
_AGGREGATE: dict[str, Callable[[list[Any], int], Any]] = {
    "count": lambda vals, k: k,
    "count_distinct": lambda vals, k: len(set(vals[:k])),
    "sum": lambda vals, k: sum(vals[:k]) if k else None,
    "avg": lambda vals, k: sum(vals[:k]) / k if k else None,
    "min": lambda vals, k: min(vals[:k]) if k else None,
    "max": lambda vals, k: max(vals[:k]) if k else None,
    "stddev": lambda vals, k: _stddev(vals[:k]) if k > 1 else None,
    "last": lambda vals, k: vals[0] if k else None,
}


def _as_kind(kind: str) -> Callable[[Any], Any] | None:
    """The served type of a computed value (the view casts to its data_type); None: as it is."""
    if kind == "float":
        return float
    if kind == "int":
        return lambda x: x if type(x) is int else int(round(x))
    if kind == "timestamp":
        return from_micros
    if kind == "date":
        return lambda x: from_micros(x).date()
    if kind == "bool":
        return bool
    return None


class WindowPlan:
    """The window features among a read's columns and how each is computed at ``t``.

    ``feature_idx`` are the read's feature indexes (the reader reads them, then the state).
    """

    def __init__(self, layout: ViewLayout, feature_idx: Sequence[int]):
        spec = layout.rolling
        by_name = {f.name: f for f in spec.features}
        slots = state_parts(spec).slots
        self.computed: list[tuple[int, Callable[[list[Any], int], Any] | None, int | None, int, int,
                                  Callable[[Any], Any] | None]] = []
        for j, i in enumerate(feature_idx):
            f = by_name.get(layout.feature_names[i])
            if f is None:
                continue  # a column the YAML declares beside the macro's: served as stored
            o, w = slots[f.index]
            v = None if o is None else o + 1
            conv = _as_kind(layout.feature_kinds[i])
            if f.seconds is None:
                if w is not None:  # exclusive lifetime: all rows, the ones at L included
                    self.computed.append((j, None, None, w, w, conv))
                continue  # inclusive lifetime: the stored value holds at every t >= L
            self.computed.append((j, _AGGREGATE[f.agg], f.seconds * 1_000_000, o, v, conv))
        self.width = len(feature_idx)

    def at(self, vals: Sequence[Any], latest: int, now: int) -> Sequence[Any]:
        """The read's values at ``now`` (epoch micros) from a stored row at ``latest`` whose last
        column is the state. At or before ``latest`` the stored values are served (docs)."""
        stored = vals[:self.width]
        state = vals[self.width]
        if now <= latest or state is None or not self.computed:
            return stored
        parts = loads(state, strict=False)
        out = list(stored)
        elapsed = now - latest
        for j, aggregate, span, o, v, conv in self.computed:
            if aggregate is None:
                value = parts[v]
            else:
                reach = span - elapsed
                k = bisect_right(parts[o], reach) if reach >= 0 else 0
                value = aggregate(parts[v], k)
            out[j] = value if value is None or conv is None else conv(value)
        return out
