"""Shared point-in-time cases: hand-checked answers, one rule each.

Every case is small enough to check by reading it. The reference
(``reference.py``) must reproduce ``expected`` (tests/pit_cases/test_reference.py),
and the macro, Python historical retrieval and the online path can run the same
cases (``CASES``) for parity. The views mirror the fixture dbt project in
tests/dbt/project/ (``VIEWS``), so a case's rows can be loaded into its tables.

>>> sorted(VIEWS)
['v_avail', 'v_avail_nottl', 'v_merchant', 'v_pair', 'v_plain', 'v_ttl']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .reference import ViewSpec

T0 = datetime(2024, 1, 1)


def at(hours: float) -> datetime:
    """T0 plus ``hours``."""
    return T0 + timedelta(hours=hours)


# The fixture project's views (tests/dbt/project/models/views/views.yml).
VIEWS: dict[str, ViewSpec] = {
    v.name: v
    for v in (
        ViewSpec("v_plain", ("customer_id",), ("f_int", "f_str")),
        ViewSpec("v_ttl", ("customer_id",), ("f_int", "f_str"), created="created_at", ttl=timedelta(hours=12)),
        ViewSpec("v_avail", ("customer_id",), ("f_int", "f_str"), created="created_at", available="available_at",
                 ttl=timedelta(hours=18)),
        ViewSpec("v_avail_nottl", ("customer_id",), ("f_int", "f_str"), available="available_at"),
        ViewSpec("v_pair", ("customer_id", "merchant_id"), ("f_int", "f_str"), created="created_at"),
        ViewSpec("v_merchant", ("merchant_id",), ("f_int", "f_str"), ttl=timedelta(days=1)),
    )
}

# Columns of each view's table in the fixture project, in order.
VIEW_COLUMNS: dict[str, tuple[str, ...]] = {
    name: (*v.keys, v.timestamp, *([v.created] if v.created else []), *([v.available] if v.available else []),
           "f_int", "f_str", "note")
    for name, v in VIEWS.items()
}
SPINE_COLUMNS = ("row_tag", "customer_id", "merchant_id", "event_ts", "event_day")


@dataclass(frozen=True)
class Case:
    """One view, its rows, a spine on ``event_ts``, and the f_int each spine row must get."""

    name: str
    rule: str
    view: str
    rows: tuple[dict[str, Any], ...]
    spine: tuple[dict[str, Any], ...]
    expected_f_int: tuple[Any, ...]
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _row(view: str, **values: Any) -> dict[str, Any]:
    return {c: values.get(c) for c in VIEW_COLUMNS[view]}


def _spine(tag: int, customer_id: Any = None, merchant_id: Any = None, event_ts: datetime | None = None) -> dict:
    return {
        "row_tag": tag, "customer_id": customer_id, "merchant_id": merchant_id, "event_ts": event_ts,
        "event_day": event_ts.date() if event_ts is not None else None,
    }


CASES: tuple[Case, ...] = (
    Case(
        "latest_row_at_or_before_t", "ts <= t, greatest ts wins; a row exactly at t counts", "v_plain",
        rows=(_row("v_plain", customer_id=1, ts=at(1), f_int=10), _row("v_plain", customer_id=1, ts=at(3), f_int=30),
              _row("v_plain", customer_id=1, ts=at(5), f_int=50)),
        spine=(_spine(1, 1, None, at(2)), _spine(2, 1, None, at(3)), _spine(3, 1, None, at(9))),
        expected_f_int=(10, 30, 50),
    ),
    Case(
        "spine_before_all_data", "no candidate: NULL, the spine row is kept", "v_plain",
        rows=(_row("v_plain", customer_id=1, ts=at(5), f_int=50),),
        spine=(_spine(1, 1, None, at(4)), _spine(2, 2, None, at(9))),
        expected_f_int=(None, None),
    ),
    Case(
        "ttl_edges_inclusive", "ts >= t - ttl, inclusive (ttl 12h)", "v_ttl",
        rows=(_row("v_ttl", customer_id=1, ts=at(0), f_int=1),),
        spine=(_spine(1, 1, None, at(12)), _spine(2, 1, None, at(12) + timedelta(microseconds=1))),
        expected_f_int=(1, None),
    ),
    Case(
        "created_breaks_ts_ties", "equal ts: greatest created wins, NULL created lowest", "v_ttl",
        rows=(_row("v_ttl", customer_id=1, ts=at(1), created_at=at(3), f_int=1),
              _row("v_ttl", customer_id=1, ts=at(1), created_at=at(2), f_int=2),
              _row("v_ttl", customer_id=1, ts=at(1), created_at=None, f_int=3)),
        spine=(_spine(1, 1, None, at(1)),),
        expected_f_int=(1,),
    ),
    Case(
        "feature_values_break_remaining_ties", "equal ts and created: greatest f_int, then f_str (decision 0001)",
        "v_ttl",
        rows=(_row("v_ttl", customer_id=1, ts=at(1), created_at=at(1), f_int=2, f_str="a"),
              _row("v_ttl", customer_id=1, ts=at(1), created_at=at(1), f_int=7, f_str="B"),
              _row("v_ttl", customer_id=1, ts=at(1), created_at=at(1), f_int=None, f_str="z")),
        spine=(_spine(1, 1, None, at(2)),),
        expected_f_int=(7,),
    ),
    Case(
        "available_timestamp_hides_backfills", "a row is a candidate only once available (available_at <= t)",
        "v_avail_nottl",
        rows=(_row("v_avail_nottl", customer_id=1, ts=at(1), available_at=at(1), f_int=1),
              # a correction for 02:00, loaded at 10:00: invisible to training rows before 10:00
              _row("v_avail_nottl", customer_id=1, ts=at(2), available_at=at(10), f_int=2),
              _row("v_avail_nottl", customer_id=1, ts=at(3), available_at=None, f_int=3)),
        spine=(_spine(1, 1, None, at(5)), _spine(2, 1, None, at(10))),
        expected_f_int=(1, 2),
    ),
    Case(
        "available_timestamp_with_ttl", "available_at <= t and ts >= t - ttl (18h), both on the same row",
        "v_avail",
        rows=(_row("v_avail", customer_id=1, ts=at(1), available_at=at(1), f_int=1),
              # a correction for 02:00, loaded at 10:00; its ttl still counts from its ts
              _row("v_avail", customer_id=1, ts=at(2), available_at=at(10), f_int=2),
              _row("v_avail", customer_id=1, ts=at(3), available_at=None, f_int=3)),
        spine=(_spine(1, 1, None, at(5)), _spine(2, 1, None, at(10)), _spine(3, 1, None, at(20)),
               _spine(4, 1, None, at(21))),
        expected_f_int=(1, 2, 2, None),
    ),
    Case(
        "null_keys_never_match", "NULL keys on either side never match; the spine row stays", "v_plain",
        rows=(_row("v_plain", customer_id=None, ts=at(1), f_int=1), _row("v_plain", customer_id=2, ts=at(1), f_int=2)),
        spine=(_spine(1, None, None, at(5)), _spine(2, 2, None, at(5)), _spine(3, 2, None, None)),
        expected_f_int=(None, 2, None),
    ),
    Case(
        "duplicate_spine_rows_stay_duplicates", "every spine row exactly once, duplicates kept", "v_plain",
        rows=(_row("v_plain", customer_id=1, ts=at(1), f_int=1), _row("v_plain", customer_id=1, ts=at(1), f_int=1)),
        spine=(_spine(1, 1, None, at(5)), _spine(1, 1, None, at(5))),
        expected_f_int=(1, 1),
    ),
    Case(
        "composite_keys_do_not_collide", "(1, 23) and (12, 3) are different keys", "v_pair",
        rows=(_row("v_pair", customer_id=1, merchant_id=23, ts=at(1), f_int=123),
              _row("v_pair", customer_id=12, merchant_id=3, ts=at(1), f_int=1203)),
        spine=(_spine(1, 1, 23, at(2)), _spine(2, 12, 3, at(2)), _spine(3, 1, 3, at(2))),
        expected_f_int=(123, 1203, None),
    ),
    Case(
        "empty_view", "an empty view gives NULL features", "v_merchant",
        rows=(),
        spine=(_spine(1, 1, 1, at(1)),),
        expected_f_int=(None,),
    ),
)

# A date spine column is midnight UTC: a row at 00:00 is a candidate for that day, one at 00:01 is not.
DATE_SPINE_CASE = Case(
    "date_spine_is_midnight", "DATE spine times are midnight UTC", "v_plain",
    rows=(_row("v_plain", customer_id=1, ts=datetime(2024, 1, 2, 0, 0), f_int=1),
          _row("v_plain", customer_id=1, ts=datetime(2024, 1, 2, 0, 1), f_int=2)),
    spine=({"row_tag": 1, "customer_id": 1, "merchant_id": None, "event_ts": None, "event_day": date(2024, 1, 2)},),
    expected_f_int=(1,),
)
