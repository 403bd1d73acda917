"""The bulk payload converter (log_payload) writes the rows the Python decoder writes, for any values."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest

from featurewarehouse.serving.log_format import as_result, responses_table, split_ref
from featurewarehouse.serving.log_payload import NotPayloadLayout, header_names, payload_header, payloads_table
from featurewarehouse.serving.wire import feast_json

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)


@dataclass(frozen=True)
class Result:
    feature_names: tuple
    values: tuple
    statuses: tuple
    event_timestamps: tuple


def result(keys: dict, features: dict, stamps: list | None = None, statuses: dict | None = None) -> Result:
    n = len(next(iter(keys.values())))
    names = tuple(keys) + tuple(features)
    values = tuple(tuple(v) for v in keys.values()) + tuple(tuple(v) for v in features.values())
    sts = tuple(("PRESENT",) * n for _ in keys) + tuple(
        tuple((statuses or {}).get(f, ["PRESENT" if v is not None else "NOT_FOUND" for v in col]))
        for f, col in features.items()
    )
    ts = tuple((None,) * n for _ in keys) + tuple(tuple(stamps or [T0] * n) for _ in features)
    return Result(names, values, sts, ts)


CASES = {
    "one entity, numbers": result({"customer_id": [42], "merchant_id": [7]}, {"a": [3], "b": [0.25], "c": [None]}),
    "many entities": result({"customer_id": [1, 2, 3]}, {"a": [1, None, 3], "b": [2.0, 1e-07, 1e16], "c": [True, False, None]},
                            stamps=[T0, None, T0 + dt.timedelta(microseconds=1)]),
    "strings with separators": result(
        {"customer_id": [1, 2]},
        {"s": ['a,b', '],"statuses":["x'], "t": ['"}]},{"values":[', "é\n\x7f"], "n": [float("nan"), float("inf")]},
    ),
    "string and non-ASCII keys": result({"country": ["DE", "Zürich"], "id": [5, -6]}, {"x": [1.5, 2]}),
    "one entity, strings": result({"id": [9]}, {"s": ["a,b"], "d": [dt.date(2025, 3, 1)], "m": ["x"]}),
    "mixed types in a column": result({"id": [1, 2, 3]}, {"m": ["a", 1e-07, 7]}),
    "dates and datetimes": result({"id": [1, 2]}, {"d": [dt.date(2025, 3, 1), None], "t": [T0, T0]}),
}


def refs_for(res: Result, n_keys: int) -> list[tuple[str, str]]:
    return [("view", name) for name in res.feature_names[n_keys:]]


def python_rows(res: Result, refs, items) -> list[dict]:
    decoded = [(rid, at, as_result(payload), None) for rid, at, payload, _ in items]
    return responses_table(refs, decoded[0][2].feature_names, decoded).to_pylist()


def key(row: dict) -> tuple:
    return (row["request_id"], row["feature_name"], row["row_index"])


@pytest.mark.parametrize("case", CASES)
def test_bulk_conversion_writes_the_rows_of_the_python_decoder(case):
    res = CASES[case]
    n_keys = {"string and non-ASCII keys": 2, "one entity, numbers": 2}.get(case, 1)
    refs = refs_for(res, n_keys)
    payload = feast_json(res)
    items = [(f"r{i}", 1_767_000_000_000_000 + i, payload, None) for i in range(3)]
    header = payload_header(payload)
    assert header is not None and header_names(header) == list(res.feature_names)
    bulk = payloads_table(refs, header, items).to_pylist()
    expected = python_rows(res, refs, items)
    assert len(bulk) == len(expected) == 3 * len(refs) * len(res.values[0])
    if case != "mixed types in a column":
        assert sorted(bulk, key=key) == sorted(expected, key=key)
    else:  # floats in a column that also holds strings: the same number, in Arrow's text (Python: repr)
        assert [json.loads(r["value"]) for r in sorted(bulk, key=key)] == [json.loads(r["value"]) for r in sorted(expected, key=key)]
    # rows per response, then feature, then entity row
    assert [(r["request_id"], r["feature_name"], r["row_index"]) for r in bulk] == [
        (f"r{i}", name, row) for i in range(3) for _, name in refs for row in range(len(res.values[0]))
    ]


def test_responses_with_different_row_counts_are_converted_together():
    one = result({"id": [1]}, {"s": ["a,b"], "x": [1.5]})
    two = result({"id": [2, 3]}, {"s": ['c","d', None], "x": [2.5, None]})
    items = [("one", 0, feast_json(one), None), ("two", 0, feast_json(two), None)]
    header = payload_header(items[0][2])
    assert payload_header(items[1][2]) == header
    rows = payloads_table(refs_for(one, 1), header, items).to_pylist()
    assert [(r["request_id"], r["feature_name"], r["row_index"], r["value"]) for r in rows] == [
        ("one", "s", 0, '"a,b"'), ("one", "x", 0, "1.5"),
        ("two", "s", 0, '"c\\",\\"d"'), ("two", "s", 1, None), ("two", "x", 0, "2.5"), ("two", "x", 1, None),
    ]
    assert [r["entity_keys"] for r in rows] == ['{"id":1}'] * 2 + ['{"id":2}', '{"id":3}'] * 2


def test_values_are_json_text_and_missing_values_are_null():
    res = CASES["strings with separators"]
    payload = feast_json(res)
    rows = payloads_table(refs_for(res, 1), payload_header(payload), [("r", 0, payload, None)]).to_pylist()
    values = {(r["feature_name"], r["row_index"]): r["value"] for r in rows}
    assert json.loads(values[("s", 1)]) == '],"statuses":["x'
    assert json.loads(values[("t", 0)]) == '"}]},{"values":['
    assert values[("n", 0)] is None and values[("n", 1)] is None  # NaN and infinity: JSON has neither
    assert rows[0]["entity_keys"] == '{"customer_id":1}'
    assert rows[0]["event_ts"] == T0


def test_bytes_in_another_layout_are_refused_or_not_recognised():
    res = CASES["many entities"]
    spaced = json.dumps(json.loads(feast_json(res))).encode()  # same JSON, with spaces
    assert payload_header(spaced) is None
    payload = feast_json(res)
    header = payload_header(payload)
    fewer = payload.replace(b',"statuses":["PRESENT","PRESENT","PRESENT"]', b',"statuses":[]', 1)
    with pytest.raises(NotPayloadLayout):
        payloads_table(refs_for(res, 1), header, [("r", 0, fewer, None)])


def test_served_at_datetimes_are_kept():
    res = CASES["one entity, numbers"]
    payload = feast_json(res)
    at = dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rows = payloads_table(refs_for(res, 2), payload_header(payload), [("r", at, payload, None)]).to_pylist()
    assert {r["served_at"] for r in rows} == {dt.datetime(2026, 5, 6, 5, 8, 9)}


def test_refs_must_fit_the_columns():
    res = CASES["one entity, numbers"]
    payload = feast_json(res)
    refs = [split_ref(f"v:f{i}") for i in range(9)]
    with pytest.raises(ValueError, match="9 feature refs for 5 columns"):
        payloads_table(refs, payload_header(payload), [("r", 0, payload, None)])


def test_the_sink_logs_payloads_in_another_layout_through_the_python_decoder(tmp_path):
    from featurewarehouse.serving.logging import FeatureLogSink, read_log

    res = CASES["many entities"]
    refs = [f"view:{name}" for name in res.feature_names[1:]]
    payload = feast_json(res)
    with FeatureLogSink(tmp_path) as sink:
        sink.log(None, refs, request_id="fast", served_at=T0, payload=payload)
        sink.log(None, refs, request_id="spaced", served_at=T0, payload=json.dumps(json.loads(payload)).encode())
        sink.log(None, refs, request_id="broken", served_at=T0, payload=payload[:-1])
    rows = read_log(tmp_path).to_pylist()
    fast = [dict(r, request_id=None) for r in rows if r["request_id"] == "fast"]
    spaced = [dict(r, request_id=None) for r in rows if r["request_id"] == "spaced"]
    assert len(fast) == 9 and spaced == fast
    assert sink.stats().errors == 1  # the truncated payload is counted, the others are written
