"""Hypothesis strategies for random small point-in-time cases over the fixture views (``cases.VIEWS``).

The data is drawn to hit the edges the rules care about: times on a 6-hour grid
so that TTLs of 12h, 18h and 1d end exactly on a row (plus a microsecond either
side now and then), few distinct timestamps and created timestamps (ties), NULL
keys and times, duplicate spine rows, spine rows before all data, empty views,
composite keys that would collide if concatenated ((1, 23) vs (12, 3)), and
text values whose order depends on collation ('B' < 'a' < 'b' < 'é' by code point).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from .cases import SPINE_COLUMNS, T0, VIEW_COLUMNS, VIEWS

STEP = timedelta(hours=6)
US = timedelta(microseconds=1)
KEY_VALUES = (1, 3, 12, 23)
TEXTS = ("", "a", "B", "b", "é", "Z", "a b", "ab")


@dataclass(frozen=True)
class RandomCase:
    rows: dict[str, list[dict[str, Any]]]  # view name -> rows (all of VIEW_COLUMNS[view])
    spine: list[dict[str, Any]]  # rows over SPINE_COLUMNS
    as_of: datetime


def grid_time(lo: int, hi: int, jitter: bool = False) -> st.SearchStrategy[datetime]:
    base = st.integers(lo, hi).map(lambda k: T0 + k * STEP)
    if not jitter:
        return base
    return st.tuples(base, st.sampled_from((timedelta(0),) * 6 + (US, -US))).map(lambda p: p[0] + p[1])


def maybe(strategy: st.SearchStrategy, null_weight: int = 1, weight: int = 6) -> st.SearchStrategy:
    return st.one_of(*([st.none()] * null_weight), *([strategy] * weight))


keys = maybe(st.sampled_from(KEY_VALUES))
f_ints = maybe(st.integers(-2, 3))
f_strs = maybe(st.sampled_from(TEXTS))


@st.composite
def view_row(draw, view_name: str, times: list[datetime], key_values: list[int]) -> dict[str, Any]:
    view = VIEWS[view_name]
    row: dict[str, Any] = {c: None for c in VIEW_COLUMNS[view_name]}
    for k in view.keys:
        row[k] = draw(maybe(st.sampled_from(key_values)))
    ts = draw(maybe(st.sampled_from(times), null_weight=1, weight=15))
    row[view.timestamp] = ts
    if view.created:
        row[view.created] = draw(maybe(grid_time(0, 1)))
    if view.available:
        delay = draw(st.sampled_from((0, 0, 0, 1, 2, 3, -1)))
        row[view.available] = None if ts is None or draw(st.integers(0, 9)) == 0 else ts + delay * STEP
    row["f_int"] = draw(f_ints)
    row["f_str"] = draw(f_strs)
    row["note"] = draw(st.sampled_from(("x", "y")))
    return row


@st.composite
def spine_rows(draw) -> list[dict[str, Any]]:
    base = draw(st.lists(
        st.fixed_dictionaries({
            "customer_id": keys,
            "merchant_id": keys,
            # from before all data (-1) to after it (14)
            "event_ts": maybe(grid_time(-1, 14, jitter=True), weight=12),
            "event_day": maybe(st.integers(-1, 4).map(lambda d: (T0 + timedelta(days=d)).date()), weight=12),
        }),
        min_size=1, max_size=12,
    ))
    rows = [{c: i if c == "row_tag" else r[c] for c in SPINE_COLUMNS} for i, r in enumerate(base)]
    # duplicate some rows verbatim (row_tag included): they must stay duplicates
    dupes = draw(st.lists(st.sampled_from(range(len(rows))), max_size=3))
    rows += [dict(rows[i]) for i in dupes]
    return rows


@st.composite
def random_case(draw) -> RandomCase:
    # a few distinct times and keys per case, so that rows tie on (keys, ts, created) often
    times = draw(st.lists(grid_time(0, 12), min_size=1, max_size=4, unique=True))
    key_values = draw(st.lists(st.sampled_from(KEY_VALUES), min_size=1, max_size=4, unique=True))
    rows = {name: draw(st.lists(view_row(name, times, key_values), max_size=10)) for name in VIEWS}
    return RandomCase(rows=rows, spine=draw(spine_rows()), as_of=draw(grid_time(-1, 14, jitter=True)))
