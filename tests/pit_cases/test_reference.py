"""The brute-force reference reproduces the hand-checked answers of every shared case."""
from __future__ import annotations

import doctest

import pytest

from pit_cases import cases, reference
from pit_cases.cases import CASES, DATE_SPINE_CASE, VIEWS


@pytest.mark.parametrize("case", [*CASES, DATE_SPINE_CASE], ids=lambda c: c.name)
def test_reference_matches_hand_checked_answer(case):
    timestamp = "event_day" if case is DATE_SPINE_CASE else "event_ts"
    out = reference.point_in_time_join(case.spine, timestamp, [(VIEWS[case.view], case.rows, ["f_int"])])
    assert [r["f_int"] for r in out] == list(case.expected_f_int)
    assert [r["row_tag"] for r in out] == [r["row_tag"] for r in case.spine]


def test_latest_values_apply_ttl_and_availability():
    view = VIEWS["v_avail"]
    rows = [
        {"customer_id": 1, "ts": cases.at(0), "created_at": None, "available_at": cases.at(0), "f_int": 1},
        {"customer_id": 1, "ts": cases.at(1), "created_at": None, "available_at": cases.at(30), "f_int": 2},
        {"customer_id": 2, "ts": cases.at(1), "created_at": None, "available_at": cases.at(1), "f_int": 3},
    ]
    # at 18:00 both customers have a value within the 18h TTL; row 2 is not available yet
    assert [(r["customer_id"], r["f_int"]) for r in reference.latest_feature_values(view, rows, cases.at(18))] == [
        (1, 1), (2, 3)]
    # at 19:00 customer 1's only available row (00:00) is past the TTL: absent
    assert [(r["customer_id"], r["f_int"]) for r in reference.latest_feature_values(view, rows, cases.at(19))] == [
        (2, 3)]


def test_full_feature_names_and_clashes():
    case = CASES[0]
    out = reference.point_in_time_join(
        case.spine, "event_ts", [(VIEWS["v_plain"], case.rows, None)], full_feature_names=True)
    assert [r["v_plain__f_int"] for r in out] == [10, 30, 50]
    with pytest.raises(ValueError, match="clashes"):
        reference.point_in_time_join(
            case.spine, "event_ts", [(VIEWS["v_plain"], case.rows, ["f_int"]), (VIEWS["v_ttl"], (), ["f_int"])])


def test_doctests():
    assert doctest.testmod(reference).failed == 0
    assert doctest.testmod(cases).failed == 0


def test_worked_example_of_the_docs():
    """README.md, "Point-in-time joins: A worked example": the table there is this answer."""
    from datetime import datetime as dt, timedelta

    view = reference.ViewSpec("customer_spend_features", ("customer_id",), ("txn_count_7d",),
                              timestamp="event_ts", created="loaded_at", ttl=timedelta(days=7))
    rows = [
        {"customer_id": 1, "event_ts": dt(2024, 5, 1, 10), "loaded_at": dt(2024, 5, 1, 10, 5), "txn_count_7d": 3},
        {"customer_id": 1, "event_ts": dt(2024, 5, 3, 9), "loaded_at": dt(2024, 5, 3, 9, 1), "txn_count_7d": 5},
        {"customer_id": 1, "event_ts": dt(2024, 5, 3, 9), "loaded_at": dt(2024, 5, 3, 12), "txn_count_7d": 6},
        {"customer_id": 2, "event_ts": dt(2024, 4, 20, 8), "loaded_at": dt(2024, 4, 20, 8), "txn_count_7d": 9},
    ]
    spine = [
        {"transaction_id": i, "customer_id": c, "event_ts": t}
        for i, c, t in [(100, 1, dt(2024, 5, 1, 9, 59)), (101, 1, dt(2024, 5, 1, 10)), (102, 1, dt(2024, 5, 3, 9)),
                        (102, 1, dt(2024, 5, 3, 9)), (103, 1, dt(2024, 5, 10, 9)), (104, 1, dt(2024, 5, 10, 9, 1)),
                        (105, 2, dt(2024, 5, 1)), (106, None, dt(2024, 5, 2))]
    ]
    out = reference.point_in_time_join(spine, "event_ts", [(view, rows, None)])
    assert [(r["transaction_id"], r["txn_count_7d"]) for r in out] == [
        (100, None), (101, 3), (102, 6), (102, 6), (103, 6), (104, None), (105, None), (106, None)]
