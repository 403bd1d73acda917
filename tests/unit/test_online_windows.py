"""The window state of rolling views online (online/windows.py) and the rolling spec's reader
(contract/rolling.py), without a warehouse or a store."""
from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from featurewarehouse.contract.rolling import RollingFeature, RollingSpec, RollingValue, rolling_spec
from featurewarehouse.online.base import STATE_COL, TS_COL, ViewLayout, ViewState
from featurewarehouse.online.keys import hex_text
from featurewarehouse.online.windows import WindowPlan, add_state, decode_state

L = 1_000_000_000_000_000  # 2001-09-09 01:46:40, the latest row's instant, epoch micros
S = 1_000_000


def spec(exclusive: bool = False) -> RollingSpec:
    return RollingSpec(
        source='"events"', keys=("k",), timestamp="ts", exclusive=exclusive, where=None,
        values=(RollingValue(1, "sum", "amount", "double"), RollingValue(2, "last", "cat", "varchar")),
        features=(
            RollingFeature("n_10s", "count", 1, 10, "bigint"),
            RollingFeature("sum_10s", "sum", 1, 10, "double"),
            RollingFeature("sum_life", "sum", 1, None, "double"),
            RollingFeature("cat_5s", "last", 2, 5, "varchar"),
            RollingFeature("distinct_10s", "count_distinct", 2, 10, "bigint"),
        ))


def layout(exclusive: bool = False) -> ViewLayout:
    names = ("n_10s", "sum_10s", "sum_life", "cat_5s", "distinct_10s")
    kinds = ("int", "float", "float", "str", "int")
    return ViewLayout("v", ("k",), ("int",), names, kinds, rolling=spec(exclusive))


def ts_list(*seconds_before: float | None) -> list:
    return None if seconds_before == (None,) else [dt.datetime(2001, 9, 9, 1, 46, 40) - dt.timedelta(seconds=s)
                                                   for s in seconds_before]


def batch(exclusive: bool = False, lifetime=None) -> pa.RecordBatch:
    cols = {
        "k": pa.array([1, 2]), TS_COL: pa.array([L, L], pa.int64()),
        "__wt1": pa.array([ts_list(0, 3, 9.5), None], pa.list_(pa.timestamp("us"))),
        "__wv1": pa.array([[2.5, float("nan"), 1e20], None], pa.list_(pa.float64())),
        "__wt2": pa.array([ts_list(0, 0, 4), []], pa.list_(pa.timestamp("us"))),
        "__wv2": pa.array([['z"q', 'a\\b\n', "é"], []], pa.list_(pa.string())),
    }
    if exclusive:
        cols["__wl1"] = pa.array([lifetime, None], pa.float64())
    return pa.RecordBatch.from_pydict(cols)


def test_the_state_is_built_with_arrow_kernels_and_decodes_back():
    assert hex_text(pa.array([b"\x00\xff", b""], pa.binary())).to_pylist() == ["00ff", ""]  # Redis keeps it as text
    out = add_state(layout(), batch())
    assert out.schema.names == ["k", TS_COL, STATE_COL]
    blobs = out.column(STATE_COL).to_pylist()
    kinds = ("events", "events")
    state = [[None if p is None else list(p) for p in decode_state(b, kinds)] for b in blobs]
    # value 1 (sum over a double): its offsets and running sum, no values (nothing reads them)
    assert state[0][0] == [0, 3 * S, 9_500_000]
    assert state[0][1] is None and state[0][3] is None and state[0][4] is None
    assert state[0][2][0] == 2.5 and all(x != x for x in state[0][2][1:])  # NaN from there on
    # value 2 (last and count_distinct over text): its values as JSON
    assert state[0][6] == ['z"q', 'a\\b\n', "é"]  # quotes, backslashes and control characters survive
    # a NULL list (no event in the window) is an empty one
    assert state[1] == [[], None, [], None, None, [], [], None, None, None]
    with pytest.raises(ValueError, match="window state version 3"):
        decode_state(b"\x03" + blobs[0][1:], kinds)


def read(lay: ViewLayout, idx, stored, state_text, now):
    return list(WindowPlan(lay, idx).at([*stored, state_text], L, now))


def test_windows_at_request_time():
    lay = layout()
    state = add_state(lay, batch()).column(STATE_COL)[0].as_py()
    stored = (3, 12.0, 40.0, "z\"q", 3)
    idx = range(5)
    # at (or before) the latest instant the stored values are served: they are the windows at L
    assert read(lay, idx, stored, state, L) == list(stored)
    assert read(lay, idx, stored, state, L - 7 * S) == list(stored)
    # 0.5s later: the 10s window starts at L - 9.5s, its edge: the row there is still inside (>=)
    got = read(lay, idx, stored, state, L + 500_000)
    assert got[0] == 3 and got[3] == 'z"q' and got[4] == 3 and got[2] == 40.0  # inclusive lifetime: stored
    got = read(lay, idx, stored, state, L + 500_001)  # a microsecond past: it left the window
    assert got[0] == 2 and got[1] != got[1]  # 2.5 + NaN
    # cat_5s: at L + 1s the rows at L - 4s are on the edge of the 5s window; the latest ('z"q',
    # the greatest of the two at L: ordered first by the sync's SQL) is served
    assert read(lay, idx, stored, state, L + S)[3] == 'z"q'
    assert read(lay, idx, stored, state, L + 5 * S + 1)[3] is None  # empty window: NULL
    assert read(lay, idx, stored, state, L + 10 * S + 1)[:2] == [0, None]  # count 0, sum NULL
    assert read(lay, idx, stored, state, L + 20 * S)[4] == 0
    # a read of some features only, in another order
    assert read(lay, [4, 0], (3, 3), state, L + 500_001) == [3, 2]


def test_an_exclusive_lifetime_window_takes_the_rows_at_the_latest_instant_after_it():
    lay = layout(exclusive=True)
    state = add_state(lay, batch(exclusive=True, lifetime=55.5)).column(STATE_COL)[0].as_py()
    stored = (2, 2.0, 40.0, None, 2)  # at L, exclusive: the rows at L are left out
    assert read(lay, range(5), stored, state, L)[2] == 40.0
    assert read(lay, range(5), stored, state, L + 1)[2] == 55.5


def test_a_plain_features_read_needs_no_window_plan():
    assert not WindowPlan(layout(), [2]).computed  # inclusive lifetime only: the stored value


def test_the_layout_keeps_its_rolling_spec_and_its_signature_moves_with_it():
    lay = layout()
    state = ViewState(lay, "r1", None, "2026-01-01T00:00:00")
    back = ViewState.from_json(state.to_json()).layout
    assert back.rolling == lay.rolling and back.stored_names == (*lay.feature_names, STATE_COL)
    assert back.signature == lay.signature
    plain = ViewLayout("v", ("k",), ("int",), lay.feature_names, lay.feature_kinds)
    assert plain.signature != lay.signature and plain.stored_names == lay.feature_names
    other = ViewLayout("v", ("k",), ("int",), lay.feature_names, lay.feature_kinds, rolling=spec(exclusive=True))
    assert other.signature != lay.signature  # a changed window rule rebuilds the view


def node(rolling, parents=("model.p.events",)) -> dict:
    return {"name": "v", "depends_on": {"nodes": list(parents)},
            "config": {"meta": {"fw_generated": {"rolling": rolling}}}}


MANIFEST = {"nodes": {"model.p.events": {"relation_name": '"db"."main"."events"'}}, "sources": {}}
RAW = {"version": 1, "keys": ["k"], "timestamp": "ts", "exclusive": False, "where": None,
       "values": [{"index": 1, "agg": "count", "expr": "1", "data_type": "bigint"}],
       "features": [{"name": "count_1h", "agg": "count", "index": 1, "seconds": 3600, "data_type": "bigint",
                     "rows": True}]}


def test_the_rolling_spec_is_read_with_its_source_relation():
    problems: list = []
    got = rolling_spec(node(RAW), MANIFEST, "models/v.yml: v", problems)
    assert not problems and got.source == '"db"."main"."events"' and got.longest_seconds(1) == 3600
    assert RollingSpec.from_dict(got.to_dict()) == got
    assert rolling_spec({"name": "plain"}, MANIFEST, "x", problems) is None and not problems


@pytest.mark.parametrize("raw, parents, message", [
    ({**RAW, "version": 2}, ("model.p.events",), "reads version 1"),
    (RAW, ("model.p.events", "model.p.other"), "depends on 2 models or sources"),
    (RAW, ("model.p.gone",), "has no relation in the manifest"),
    ({**RAW, "features": [{"name": "x"}]}, ("model.p.events",), "is malformed"),
    ({**RAW, "features": [{**RAW["features"][0], "agg": "median"}]}, ("model.p.events",), "unknown aggregation"),
])
def test_a_bad_rolling_spec_is_a_problem_that_says_how_to_fix_it(raw, parents, message):
    problems: list = []
    assert rolling_spec(node(raw, parents), MANIFEST, "models/v.yml: v", problems) is None
    assert len(problems) == 1 and message in problems[0].message and problems[0].hint


def test_values_with_one_expression_share_their_events():
    from featurewarehouse.online.window_sql import state_parts

    shared = RollingSpec(
        source='"e"', keys=("k",), timestamp="ts", exclusive=True, where=None,
        values=(RollingValue(1, "sum", "amount", "double"), RollingValue(2, "avg", "amount", "double"),
                RollingValue(3, "count", "1", "bigint")),
        features=(RollingFeature("s_1h", "sum", 1, 3600, "double"), RollingFeature("a_1d", "avg", 2, 86400, "double"),
                  RollingFeature("a_life", "avg", 2, None, "double"), RollingFeature("n_1h", "count", 3, 3600, "bigint")))
    got = state_parts(shared)
    assert got.parts == (("events", 1, 86400), ("lifetime", 2, None), ("events", 3, 3600))
    assert got.slots == {1: (0, None), 2: (0, 5), 3: (6, None)}  # an events part takes 5 slots
    assert got.arrays == {1: ("sum",), 3: ()}  # sum and avg read the running sum; a count nothing


@pytest.mark.parametrize("name", ["add", "fmin", "maximum"])
def test_running_aggregates_equal_a_loop_over_each_key(name):
    import numpy as np

    from featurewarehouse.online.windows import _running

    rng = np.random.default_rng(7)
    # empty runs, one long run (its own band), NaN, and values whose sum depends on the order
    counts = np.array([0, 1, 3, 0, 2, 130, 4, 7, 0, 1] * 5, "<i8")
    flat = rng.choice([0.1, 1e16, -1e16, 3.0, float("nan"), 2.5], counts.sum()).astype("<f8")
    got = _running(flat, counts, getattr(np, name))
    want, at = [], 0
    for n in counts:
        acc = None
        for x in flat[at:at + n]:
            acc = x if acc is None else {"add": lambda a, b: a + b, "fmin": np.fmin, "maximum": np.maximum}[name](acc, x)
            want.append(acc)
        at += n
    np.testing.assert_array_equal(got, np.array(want))  # NaN where NaN, bit for bit elsewhere
