"""A rolling view's windows at request time: the state the sync stores per key, and the read.

The online value of a window feature at request time ``t`` is the window aggregate over the
key's source rows in ``[t - d, t]`` (exclusive views: ``[t - d, t)``), the value the PIT join
gives a spine row at ``t`` (docs/rolling-windows.md, "Online values"). The stored row is the
view's latest, at instant ``L``: its values are the windows at ``L``. For ``t > L`` the read
combines the key's *window state*, which the sync computes in the warehouse
(:mod:`featurewarehouse.online.window_sql`) and stores beside the features (``STATE_COL``).

The state holds the parts of :func:`~featurewarehouse.online.window_sql.state_parts` in order:
per *events* part the offsets ``o = L - ts`` (epoch microseconds) of a value's non-NULL
events within its longest window, newest first (ties: the greatest value first), so a
window ``d`` at ``t`` holds the first ``k = bisect_right(o, d - (t - L))`` of them, then the
arrays its aggregations read (``window_sql.ARRAYS``): text values as JSON; numeric values
(numbers, booleans, timestamps and dates as epoch microseconds) as float64, and their running
sum, min and max in the same order, so a window's sum, avg, min or max is item ``k - 1``, one
index whatever the window holds (sums in the order a loop over the values adds them; min and
max order NaN above every number, as the warehouses do). Per *lifetime* part (exclusive
views) the aggregate over all of the key's rows. Encoding, little-endian (stored as the
``bytes`` kind: a BLOB in SQLite, hex text in Redis):

    int64 version (2), int64 parts with events,
    per events part: int64 n, int64 arrays (bit j: ARRAYS[j] follows), int64 bytes of the arrays,
    per events part: n int64 offsets, then the arrays (a JSON array, or n float64 each),
    the lifetime aggregates as one JSON array.

Decoding is views over the bytes (the values of ``stddev``, ``count_distinct`` and ``last``
become a list): 60 events in about 2 microseconds, where ``json.loads`` of the same lists took
15-20, and the running aggregates cut the combine at p99 from 4 us more than the median to
flat (bench/online_rolling_read.py's data). A BLOB, not hex text, in SQLite: a row read
costs with its size.
"""
from __future__ import annotations

import math
import re
import sys
from array import array
from bisect import bisect_right
from json import loads
from typing import Any, Callable, Sequence

from featurewarehouse.online.base import STATE_COL, STATE_VERSION, TS_COL, ViewLayout
from featurewarehouse.online.keys import from_micros, kind_of, timestamp_micros
from featurewarehouse.online.window_sql import ARRAYS, EVENT_SLOTS, reads, state_parts

# running aggregates of float64 values, NaN as the warehouses order it (above every number)
_RUNNING = {"sum": "add", "min": "fmin", "max": "maximum"}


# ---- sync: the state column, with Arrow kernels and numpy ----------------------------------

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


def _as_float64(flat: Any) -> Any:
    """Numeric, boolean and time values as float64 (times in epoch micros); None for text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = flat.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return pc.cast(timestamp_micros(flat), pa.float64())
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t):
        return pc.cast(flat, pa.float64())
    return None


def _running(flat: Any, counts: Any, ufunc: Any) -> Any:
    """``ufunc.accumulate`` over each key's run of ``flat`` (``counts[i]`` items each, in order),
    exactly as a loop over each run would: runs of a similar length (within 2x) are padded at
    their end into one matrix, so padding at most doubles the work and never reaches a value."""
    import numpy as np

    out = np.empty_like(flat)
    starts = np.cumsum(counts) - counts
    band = np.zeros(len(counts), np.int64)
    has = counts > 0
    band[has] = np.log2(counts[has]).astype(np.int64)
    for b in np.unique(band[has]):
        rows = np.flatnonzero(has & (band == b))
        lengths = counts[rows]
        within = np.arange(lengths.max()) < lengths[:, None]
        at = (starts[rows, None] + np.arange(lengths.max()))[within]
        matrix = np.zeros(within.shape, flat.dtype)
        matrix[within] = flat[at]
        out[at] = ufunc.accumulate(matrix, axis=1)[within]
    return out


def _rows(flat: Any, counts: Any) -> Any:
    """A binary array whose row ``i`` is the next ``counts[i]`` fixed-width items of numpy ``flat``."""
    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(counts * flat.dtype.itemsize, out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), len(counts), [None, pa.py_buffer(offsets),
                                                            pa.py_buffer(np.ascontiguousarray(flat).tobytes())])


def _json_lists(lists: Any) -> Any:
    """Each list as a JSON array text (a NULL list: ``[]``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    text = pa.ListArray.from_arrays(offsets, _json_values(pc.list_flatten(lists)))
    return pc.binary_join_element_wise("[", pc.fill_null(pc.binary_join(text, ","), ""), "]", "")


def add_state(layout: ViewLayout, batch: Any) -> Any:
    """The batch of a rolling view's sync with its ``__wt/__wv/__wl`` columns (window_sql) encoded
    into ``STATE_COL``. ``TS_COL`` is already epoch micros (sync._prepare_batch)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    names = batch.schema.names
    n = batch.num_rows
    shape = state_parts(layout.rolling)
    parts = shape.parts
    events = [i for kind, i, _ in parts if kind == "events"]
    head = np.zeros((n, 2 + 3 * len(events)), "<i8")
    head[:, 0], head[:, 1] = STATE_VERSION, len(events)
    pieces: list[Any] = []
    latest = batch.column(TS_COL)
    for p, i in enumerate(events):
        times = batch.column(f"__wt{i}")
        counts = pc.fill_null(pc.list_value_length(times), 0).to_numpy(zero_copy_only=False).astype("<i8")
        before = pc.subtract(pc.take(latest, pc.list_parent_indices(times)), timestamp_micros(pc.list_flatten(times)))
        pieces.append(_rows(before.to_numpy(zero_copy_only=False).astype("<i8"), counts))
        arrays = shape.arrays[i]
        head[:, 2 + 3 * p] = counts
        if not arrays:  # counts need no values (none were selected)
            continue
        values = batch.column(f"__wv{i}")
        as_float = _as_float64(pc.list_flatten(values))
        if as_float is None:  # text: its values as JSON; a running aggregate is of numbers only
            if arrays != ("values",):
                raise ValueError(f"{layout.name}: value fw_v{i} is declared numeric ({layout.rolling.value(i).data_type}) "
                                 f"but the warehouse returned {values.type.value_type}")
            text = pc.cast(_json_lists(values), pa.binary())
            pieces.append(text)
            head[:, 3 + 3 * p] = 1 << ARRAYS.index("json")
            head[:, 4 + 3 * p] = pc.binary_length(text).to_numpy(zero_copy_only=False)
            continue
        flat = as_float.to_numpy(zero_copy_only=False).astype("<f8")
        for a in arrays:
            pieces.append(_rows(flat if a == "values" else _running(flat, counts, getattr(np, _RUNNING[a])), counts))
        head[:, 3 + 3 * p] = sum(1 << ARRAYS.index(a) for a in arrays)
        head[:, 4 + 3 * p] = counts * 8 * len(arrays)
    aggregates = [pc.fill_null(_json_values(batch.column(f"__wl{i}")), "null") for kind, i, _ in parts
                  if kind == "lifetime"]
    tail = (pc.binary_join_element_wise("[", pc.binary_join_element_wise(*aggregates, ","), "]", "")
            if aggregates else pa.array(["[]"] * n, pa.string()))
    blobs = pc.binary_join_element_wise(_rows(head.reshape(-1), np.full(n, head.shape[1])), *pieces,
                                        pc.cast(tail, pa.binary()), b"")
    keep = [j for j, name in enumerate(names) if not name.startswith(("__wt", "__wv", "__wl"))]
    return pa.RecordBatch.from_arrays([batch.column(j) for j in keep] + [blobs],
                                      [names[j] for j in keep] + [STATE_COL])


if sys.byteorder == "little":
    def _numbers(raw: memoryview, code: str) -> Any:
        """Little-endian int64 (``q``) or float64 (``d``) values: a view, no copy."""
        return raw.cast(code)
else:  # pragma: no cover (no big-endian machine runs the tests)
    def _numbers(raw: memoryview, code: str) -> Any:
        a = array(code, raw)
        a.byteswap()
        return a


def decode_state(raw: bytes, kinds: Sequence[str]) -> list[Any]:
    """The state's parts as the flat list :class:`WindowPlan` indexes: per events part its offsets
    and one slot per array but JSON (``window_sql.EVENT_SLOTS``: the values as a list, text or
    numeric; the running sum, min and max as views; None where not stored), per lifetime part
    its aggregate (``kinds``: each part's kind, in order).

    Offsets and running aggregates are memoryviews over ``raw`` (a read probes a handful;
    copying the offsets into an array cost a third of the decode)."""
    mv = memoryview(raw)
    version, parts = _numbers(mv[:16], "q")
    if version != STATE_VERSION:
        raise ValueError(f"window state version {version}, this featurewarehouse reads {STATE_VERSION}")
    pos = 16 + 24 * parts
    head = _numbers(mv[16:pos], "q")
    events: list[Any] = []
    for p in range(parts):
        count, arrays, width = head[3 * p], head[3 * p + 1], head[3 * p + 2]
        end = pos + 8 * count
        slots: list[Any] = [_numbers(mv[pos:end], "q"), None, None, None, None]
        if arrays == 1:  # text values: ARRAYS[0]
            slots[1] = loads(raw[end:end + width], strict=False)
        elif arrays:
            at = end
            for j in range(1, EVENT_SLOTS):
                if arrays >> j & 1:
                    slots[j] = _numbers(mv[at:at + 8 * count], "d")
                    at += 8 * count
            if slots[1] is not None:
                slots[1] = slots[1].tolist()  # builtins sum, set and sort a list faster
        events += slots
        pos = end + width
    if "lifetime" not in kinds:
        return events
    aggregates = iter(loads(raw[pos:], strict=False))
    it = iter(events)
    return [x for kind in kinds for x in ([next(it) for _ in range(EVENT_SLOTS)] if kind == "events"
                                          else (next(aggregates),))]


# ---- read: the windows at t ----------------------------------------------------------------

def _stddev(vals: Sequence[Any]) -> float:
    n = len(vals)
    mean = math.fsum(vals) / n
    return math.sqrt(math.fsum([(x - mean) ** 2 for x in vals]) / (n - 1))


# agg -> its value as a Python expression over ``v`` (the values in the window, newest first) and
# ``k`` (how many they are); ``None`` for an empty window except the counts. Over numeric values,
# sum, avg, min and max read item k - 1 of a running aggregate, ``{sum}`` and so on (the slot)
_EXPRESSIONS = {
    "count": "k",
    "count_distinct": "len(set(v))",
    "stddev": "(_stddev(v) if k > 1 else None)",
    "last": "(v[0] if k else None)",
    "min": "(min(v) if k else None)",
    "max": "(max(v) if k else None)",
}
_RUNNING_EXPRESSIONS = {
    "sum": "(parts[{sum}][k - 1] if k else None)",
    "avg": "(parts[{sum}][k - 1] / k if k else None)",
    "min": "(parts[{min}][k - 1] if k else None)",
    "max": "(parts[{max}][k - 1] if k else None)",
}


def _expression(agg: str, data_type: str, events: int) -> str:
    """The Python expression of ``agg`` over the events part at position ``events``."""
    if reads(agg, data_type) in (("sum",), ("min",), ("max",)):
        return _RUNNING_EXPRESSIONS[agg].format(**{a: events + ARRAYS.index(a) for a in ("sum", "min", "max")})
    return _EXPRESSIONS[agg]


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
        layout_of_state = state_parts(spec)
        slots = layout_of_state.slots
        self.kinds = tuple(kind for kind, _, _ in layout_of_state.parts)
        # features by (events part, window): one bisect and one slice each
        groups: dict[tuple[int, int], list[tuple[int, str, str]]] = {}
        lifetime: list[tuple[int, int, str]] = []
        convs: dict[str, Any] = {}
        for j, i in enumerate(feature_idx):
            f = by_name.get(layout.feature_names[i])
            if f is None:
                continue  # a column the YAML declares beside the macro's: served as stored
            o, w = slots[f.index]
            kind = layout.feature_kinds[i]
            # float64 values aggregate to floats and counts are ints: no conversion then
            same = (kind == "int" and f.agg in ("count", "count_distinct")) or (
                kind == "float" and f.agg not in ("count", "count_distinct") and kind_of(spec.value(f.index).data_type)
                in ("int", "float"))
            conv = "" if same or _as_kind(kind) is None else f"_c{j}"
            if conv:
                convs[conv] = _as_kind(kind)
            if f.seconds is None:
                if w is not None:  # exclusive lifetime: all rows, the ones at L included
                    lifetime.append((j, w, f"_c{j}" if _as_kind(kind) else ""))
                    convs[f"_c{j}"] = _as_kind(kind)
                continue  # inclusive lifetime: the stored value holds at every t >= L
            expr = _expression(f.agg, spec.value(f.index).data_type, o)
            groups.setdefault((o, f.seconds * 1_000_000), []).append((j, expr, conv))
        self.computed = bool(groups or lifetime)
        self.width = len(feature_idx)
        self._compute = _compile(groups, lifetime, convs)

    def at(self, vals: Sequence[Any], latest: int, now: int) -> Sequence[Any]:
        """The read's values at ``now`` (epoch micros) from a stored row at ``latest`` whose last
        column is the state. At or before ``latest`` the stored values are served (docs)."""
        stored = vals[:self.width]
        state = vals[self.width]
        if now <= latest or state is None or not self.computed:
            return stored
        out = list(stored)
        self._compute(decode_state(state, self.kinds), now - latest, out)
        return out


def _compile(groups: dict[tuple[int, int], list[tuple[int, str, str]]], lifetime: list[tuple[int, int, str]],
             convs: dict[str, Any]) -> Callable[[list[Any], int, list[Any]], None]:
    """One function computing a read's window features into ``out``, generated as Python source:
    a loop over (feature, aggregation, conversion) tuples cost twice its time for 15 features
    (bench/online_rolling_read.py). Only integers and the fixed expressions above go into the source."""
    lines = ["def compute(parts, elapsed, out):"]
    for (o, span), feats in groups.items():
        lines.append(f"    k = bisect_right(parts[{o}], {span} - elapsed) if elapsed <= {span} else 0")
        if any(re.search(r"\bv\b", expr) for _, expr, _ in feats):  # an expression over the values
            lines.append(f"    v = parts[{o + 1}][:k]")
        for j, expr, conv in feats:
            lines.append(f"    out[{j}] = {expr}" if not conv else
                         f"    x = {expr}\n    out[{j}] = None if x is None else {conv}(x)")
    for j, w, conv in lifetime:
        lines.append(f"    out[{j}] = parts[{w}]" if not conv else
                     f"    x = parts[{w}]\n    out[{j}] = None if x is None else {conv}(x)")
    lines.append("    return None")
    namespace: dict[str, Any] = {"bisect_right": bisect_right, "_stddev": _stddev, **convs}
    exec("\n".join(lines), namespace)  # noqa: S102 (generated from integers and fixed text only)
    return namespace["compute"]
