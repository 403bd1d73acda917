"""What a rolling view's sync reads besides the latest row per key: each key's window state (SQL).

For a key whose latest row is at ``L`` (the row :func:`~featurewarehouse.online.latest_sql.latest_values_sql`
picks), every window of the view at any request time ``t > L`` is a function of the key's
source rows at or before ``L`` (no later row is visible to the sync). Per aggregated value
``i`` (the macro's ``fw_v<i>``) the query returns, grouped per key:

- ``__wt<i>`` / ``__wv<i>``: the non-NULL values and their timestamps within value ``i``'s
  longest finite window before ``L`` (``ts >= L - D``), ordered by timestamp descending, then
  value descending (``last``'s tie rule: the greatest at the latest instant first);
- ``__wl<i>``: only for an ``exclusive`` view with a lifetime window over ``i``: the aggregate
  over all of the key's rows. At ``t = L`` such a window leaves the rows at ``L`` out (the
  stored value is that), at ``t > L`` it holds them.

A lifetime window of an inclusive view needs no state: at any ``t >= L`` it holds the same
rows as at ``L``, which is the stored value. :mod:`featurewarehouse.online.windows` encodes the
columns into the one state column the stores keep and combines them at read time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from featurewarehouse.contract.rolling import RollingSpec
from featurewarehouse.online.base import TS_COL
from featurewarehouse.online.keys import kind_of


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# what an events part may store after its offsets, in this order (online/windows.py encodes and
# decodes them): its values as one JSON array (text) or as float64 (numbers), and for numeric
# values the running sum, min and max in the newest-first order, so a window's aggregate is one index
ARRAYS = ("json", "values", "sum", "min", "max")


def reads(agg: str, data_type: str) -> tuple[str, ...]:
    """The arrays an aggregation (``data_type``: its result's) reads besides the offsets: ``values``
    (stored as JSON or float64, as the warehouse returns them) or a running aggregate."""
    if agg == "count":
        return ()
    if agg in ("sum", "avg"):
        return ("sum",)
    if agg in ("min", "max") and kind_of(data_type) != "str":  # min and max keep their value's type
        return (agg,)
    return ("values",)


@dataclass(frozen=True)
class StateParts:
    """What the state holds, in order: per part ``("events", i, D)`` (the offsets and arrays of value
    ``i`` within ``D`` seconds, shared by every value with the same expression: ``sum``, ``avg``
    and ``max`` of one column store one part) or ``("lifetime", i, None)`` (its all-rows aggregate);
    ``slots``: value index -> (position of its offsets, or None; position of its aggregate, or None).

    An events part takes ``EVENT_SLOTS`` positions in the decoded state: its offsets, then one per
    name in ``ARRAYS`` but ``json`` (its values, text or numeric, share one), None where it stores
    none; ``arrays``: events part -> what it stores (``reads``'s names, in ``ARRAYS`` order)."""

    parts: tuple[tuple[str, int, int | None], ...]
    slots: dict[int, tuple[int | None, int | None]]
    arrays: dict[int, tuple[str, ...]]


EVENT_SLOTS = len(ARRAYS)  # offsets, values, sum, min, max


def state_parts(spec: RollingSpec) -> StateParts:
    longest: dict[tuple[str, str], tuple[int, int]] = {}  # (expr, type) -> (first value index, longest window)
    for v in spec.values:
        d = spec.longest_seconds(v.index)
        if d is not None:
            first, prev = longest.get((v.expr, v.data_type), (v.index, 0))
            longest[(v.expr, v.data_type)] = (first, max(prev, d))
    parts: list[tuple[str, int, int | None]] = []
    position: dict[int, int] = {}  # representative value index -> position of its offsets
    slots: dict[int, tuple[int | None, int | None]] = {}
    n = 0  # the next position in the state list: events take EVENT_SLOTS, an aggregate one
    for v in spec.values:
        events = None
        if spec.longest_seconds(v.index) is not None:
            first, d = longest[(v.expr, v.data_type)]
            if first == v.index:
                position[first], n = n, n + EVENT_SLOTS
                parts.append(("events", first, d))
            events = position[first]
        aggregate = None
        if spec.exclusive and spec.has_lifetime(v.index):
            aggregate, n = n, n + 1
            parts.append(("lifetime", v.index, None))
        slots[v.index] = (events, aggregate)
    read: dict[int, set[str]] = {i: set() for kind, i, _ in parts if kind == "events"}
    for f in spec.features:
        if f.seconds is not None:
            v = spec.value(f.index)
            read[longest[(v.expr, v.data_type)][0]].update(reads(f.agg, v.data_type))
    arrays = {i: tuple(a for a in ARRAYS if a in names) for i, names in read.items()}
    return StateParts(tuple(parts), slots, arrays)


def _ordered(value: str, text: bool, engine: Any) -> str:
    """A value in an ORDER BY / min / max: text by code point on every engine (decision 0001)."""
    return f"{value}{engine.TEXT_ORDER_COLLATE}" if text else value


def _lifetime_agg(agg: str, v: str, last_ts: str, text: bool, engine: Any) -> str:
    """The aggregate of value column ``v`` over all of a key's rows (``last_ts``: its latest non-NULL instant)."""
    o = _ordered(v, text, engine)
    return {
        "count": f"count({v})", "count_distinct": f"count(distinct {v})", "sum": f"sum({v})", "avg": f"avg({v})",
        "min": f"min({o})", "max": f"max({o})", "stddev": f"stddev_samp({v})",
        "last": f"max(case when fw_ts = {last_ts} then {o} end)",
    }[agg]


def window_state_sql(view: Any, latest_sql: str, *, dialect: str = "duckdb", order_by_keys: bool = False) -> str:
    """``latest_sql``'s rows (one per key, see latest_values_sql) with each key's window state columns.

    ``latest_sql`` must not sort its rows (a sort inside a CTE does not survive the join):
    ``order_by_keys`` sorts the result instead.
    """
    from featurewarehouse.offline.warehouse import engine_named

    spec: RollingSpec = view.rolling
    engine = engine_named(dialect)
    keys = list(spec.keys)
    src_keys = ", ".join(_q(k) for k in keys)
    where = [f"{_q(k)} is not null" for k in keys] + [f"{_q(spec.timestamp)} is not null"]
    if spec.where:
        where.append(f"({spec.where})")
    values = ",\n        ".join(f"{v.expr} as fw_v{v.index}" for v in spec.values)
    layout = state_parts(spec)
    finite = {i: d for kind, i, d in layout.parts if kind == "events"}
    lifetime = [spec.value(i) for kind, i, _ in layout.parts if kind == "lifetime"]
    bounds = list(finite.values())
    # the join reads back the longest finite window, or every row when a lifetime aggregate is stored
    lower = ""
    if not lifetime:
        lower = f" and s.fw_ts >= {engine.minus_seconds(f'l.{TS_COL}', max(bounds))}" if bounds else ""
    on = " and ".join(f"s.{_q(k)} = l.{_q(k)}" for k in keys)
    last_marks = "".join(
        f",\n        max(case when s.fw_v{v.index} is not null then s.fw_ts end) over (partition by "
        f"{', '.join(f'l.{_q(k)}' for k in keys)}) as fw_lt{v.index}"
        for v in lifetime if v.agg == "last")
    cols = []
    for v in spec.values:
        text = kind_of(v.data_type) == "str"
        d = finite.get(v.index)
        if d is not None:
            keep = f"fw_v{v.index} is not null and fw_ts >= {engine.minus_seconds('fw_l', d)}"
            order = f"fw_ts desc, {_ordered(f'fw_v{v.index}', text, engine)} desc"
            value = f"fw_v{v.index}" if layout.arrays[v.index] else None
            times_sql, values_sql = engine.newest_first_lists("fw_ts", value, order, keep)
            cols.append(f"{times_sql} as __wt{v.index}")
            if values_sql:
                cols.append(f"{values_sql} as __wv{v.index}")
        if v in lifetime:
            cols.append(f"{_lifetime_agg(v.agg, f'fw_v{v.index}', f'fw_lt{v.index}', text, engine)} as __wl{v.index}")
    if not cols:  # an inclusive view with lifetime windows only: its stored values hold at any t >= L
        return f"select * from ({latest_sql}) as l" + (f" order by {', '.join(f'l.{_q(k)}' for k in keys)}"
                                                         if order_by_keys else "")
    state_cols = [c.rsplit(" as ", 1)[1] for c in cols]
    joined_keys = ", ".join(f"l.{_q(k)}" for k in keys)
    return f"""
with fw_latest as (
{latest_sql}
),

fw_source as (
    select
        {src_keys},
        cast({_q(spec.timestamp)} as timestamp) as fw_ts,
        {values}
    from {spec.source}
    where {" and ".join(where)}
),

-- each key's source rows at or before its latest row's instant, back to its longest window
fw_joined as (
    select {joined_keys}, l.{TS_COL} as fw_l, s.fw_ts, {", ".join(f"s.fw_v{v.index}" for v in spec.values)}{last_marks}
    from fw_latest as l
    join fw_source as s on {on} and s.fw_ts <= l.{TS_COL}{lower}
),

fw_state as (
    select
        {src_keys},
        {(","+chr(10)+"        ").join(cols)}
    from fw_joined
    group by {src_keys}
)

select l.*, {", ".join(f"st.{c}" for c in state_cols)}
from fw_latest as l
left join fw_state as st on {" and ".join(f"st.{_q(k)} = l.{_q(k)}" for k in keys)}{f" order by {joined_keys}" if order_by_keys else ""}
"""
