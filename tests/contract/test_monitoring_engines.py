"""``fwctl monitor``'s SQL on every engine, against a numpy reference on generated data.

The same cases run on DuckDB (in memory) and PostgreSQL (a fresh schema): bin
edges are the baseline's deciles, bin counts and PSI equal numpy's over those
edges, null rates and freshness are what the data say.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurewarehouse.monitoring import psi as _psi
from featurewarehouse.monitoring.run import monitor_view
from featurewarehouse.monitoring.spec import view_monitors
from featurewarehouse.offline.warehouse import DuckDBWarehouse, PostgresWarehouse

DAY1, DAY2 = dt.datetime(2025, 6, 1), dt.datetime(2025, 6, 2)
NOW = dt.datetime(2025, 6, 3, 0, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request):
    if request.param == "duckdb":
        wh = DuckDBWarehouse(":memory:")
        yield wh, '"main"'
        wh.close()
    else:
        uri = request.getfixturevalue("postgres_uri")
        schema = request.getfixturevalue("pg_schema")
        wh = PostgresWarehouse(uri)
        yield wh, f'"{schema}"'
        wh.close()


def _manifest(schema: str, monitor: dict | None = None) -> dict:
    fw = {"kind": "feature_view", "timestamp": "ts", "created_timestamp": "loaded_at", "ttl": "1d",
          "freshness": {"max_age": "12h"}, "monitor": monitor or {"psi": 0.2, "blocking": True, "min_rows": 1}}
    cols = {"x": "double", "n": "bigint", "cat": "varchar"}
    return {"nodes": {"model.p.fv": {
        "resource_type": "model", "name": "fv", "relation_name": f'{schema}."fv"', "config": {"meta": {"fw": fw}},
        "columns": {c: {"name": c, "data_type": t, "config": {"meta": {"fw": {"feature": True}}}} for c, t in cols.items()},
    }}}


def _load(wh, schema, base_x, cur_x, base_cat, cur_cat):
    n1, n2 = len(base_x), len(cur_x)
    ts = [DAY1 + dt.timedelta(seconds=i) for i in range(n1)] + [DAY2 + dt.timedelta(seconds=i) for i in range(n2)]
    xs = list(base_x) + list(cur_x)
    table = pa.table({
        "ts": pa.array(ts, pa.timestamp("us")),
        "loaded_at": pa.array([t + dt.timedelta(minutes=5) for t in ts], pa.timestamp("us")),
        "x": pa.array(xs, pa.float64()),
        "n": pa.array([None if v is None else int(v) for v in xs], pa.int64()),
        "cat": pa.array(list(base_cat) + list(cur_cat), pa.string()),
    })
    wh.upload_arrow("fv", table, temporary=False, schema=schema.strip('"'))


def _numpy_bins(values, edges):
    v = np.array([x for x in values if x is not None], float)
    return np.bincount(np.searchsorted(np.asarray(edges, float), v, side="right"), minlength=len(edges) + 1)


def _numpy_psi(b, c):
    p = np.clip(b / b.sum(), _psi.EPSILON, None)
    q = np.clip(c / c.sum(), _psi.EPSILON, None)
    return float(np.sum((q - p) * np.log(q / p)))


values = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3)))
cats = st.one_of(st.none(), st.sampled_from([f"c{i}" for i in range(25)]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base=st.lists(st.tuples(values, cats), min_size=2, max_size=60).filter(lambda r: any(x is not None for x, _ in r)),
    cur=st.lists(st.tuples(values, cats), min_size=1, max_size=60),
)
def test_profiles_and_psi_match_numpy(engine, base, cur):
    wh, schema = engine
    _load(wh, schema, [x for x, _ in base], [x for x, _ in cur], [c for _, c in base], [c for _, c in cur])
    view = view_monitors(_manifest(schema))["fv"]
    result = monitor_view(wh, _manifest(schema), view, baseline="previous", now=NOW)
    assert result.window == "2025-06-02" and result.baseline.startswith("previous window 2025-06-01")
    by = {f.feature: f for f in result.features}

    x = by["x"]
    base_x = np.array([v for v, _ in base if v is not None], float)
    expected_edges = np.unique(np.quantile(base_x, _psi.quantile_points()))
    assert np.allclose(x.bins, expected_edges, rtol=1e-9, atol=1e-6)
    b, c = _numpy_bins([v for v, _ in base], x.bins), _numpy_bins([v for v, _ in cur], x.bins)
    assert list(x.baseline.bins) == list(b) and list(x.current.bins) == list(c)
    if c.sum():
        assert x.psi == pytest.approx(_numpy_psi(b, c), rel=1e-9, abs=1e-12)
        cur_x = np.array([v for v, _ in cur if v is not None], float)
        assert x.current.mean == pytest.approx(cur_x.mean(), rel=1e-9, abs=1e-6)
        assert x.current.min == cur_x.min() and x.current.max == cur_x.max()
    else:
        assert x.psi is None
    assert x.current.null_rate == pytest.approx(sum(v is None for v, _ in cur) / len(cur))
    assert x.null_rate_change == pytest.approx(x.current.null_rate - x.baseline.null_rate)
    assert set(x.psi_by_window) == {"2025-06-01", "2025-06-02"} and x.psi_by_window["2025-06-01"] == 0.0

    cat = by["cat"]  # the 20 most frequent baseline categories (ties by name), then "other"
    from collections import Counter

    freq = Counter(v for _, v in base if v is not None)
    top = [k for k, _ in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:_psi.TOP_CATEGORIES]]
    assert list(cat.bins) == top

    def cat_counts(rows):
        vals = [v for _, v in rows if v is not None]
        return np.array([sum(v == t for v in vals) for t in top] + [sum(v not in top for v in vals)], float)

    cb, cc = cat_counts(base), cat_counts(cur)
    assert list(cat.current.bins) == list(cc)
    assert cat.psi == (pytest.approx(_numpy_psi(cb, cc), rel=1e-9) if cb.sum() and cc.sum() else None)

    fresh = result.freshness
    assert fresh["newest_event"].startswith("2025-06-02") and fresh["newest_load"] is not None
    assert fresh["past_ttl"] is False
    newest = DAY2 + dt.timedelta(seconds=len(cur) - 1)
    assert fresh["age_seconds"] == (NOW - newest.replace(tzinfo=dt.timezone.utc)).total_seconds()
    assert [b.metric for b in result.breaches if b.metric == "freshness"] == ["freshness"]  # > 12h old


def test_a_planted_shift_breaches_and_a_stable_day_does_not(engine):
    wh, schema = engine
    rng = np.random.default_rng(0)
    base = rng.normal(100, 10, 2000)
    _load(wh, schema, base, rng.normal(130, 10, 2000), ["a"] * 2000, ["a"] * 2000)
    view = view_monitors(_manifest(schema, {"psi": 0.2, "blocking": True, "max_age": "30d"}))["fv"]
    shifted = monitor_view(wh, _manifest(schema), view, baseline="previous", now=NOW)
    assert {(b.feature, b.metric, b.blocking) for b in shifted.breaches} == {("x", "psi", True), ("n", "psi", True)}
    _load(wh, schema, base, rng.normal(100, 10, 2000), ["a"] * 2000, ["a"] * 2000)
    few = view_monitors(_manifest(schema, {"psi": 0.2, "max_age": "30d", "min_rows": 2001}))["fv"]
    assert monitor_view(wh, _manifest(schema), few, baseline="previous", now=NOW).breaches == ()  # too few rows
    stable = monitor_view(wh, _manifest(schema), view, baseline="range:2025-06-01..2025-06-02", now=NOW)
    assert stable.breaches == () and max(f.psi for f in stable.features) < 0.05


def test_the_served_log_is_compared_with_a_training_set(engine):
    """Training/serving drift: the current rows are what the served log recorded of the view's
    features (columns marked served_from), the baseline a training set's columns."""
    wh, schema = engine
    rng = np.random.default_rng(2)
    bare = schema.strip('"')
    wh.upload_arrow("training", pa.table({"x": rng.normal(0, 1, 3000)}), temporary=False, schema=bare)
    served = rng.normal(0, 1, 3000)
    served[:1500] = None  # half the served vectors lacked the feature
    wh.upload_arrow("served", pa.table({
        "served_at": pa.array([DAY2 + dt.timedelta(seconds=i) for i in range(3000)], pa.timestamp("us")),
        "served_x": pa.array(served, pa.float64()),
    }), temporary=False, schema=bare)
    _load(wh, schema, [1.0] * 5, [1.0] * 5, ["a"] * 5, ["a"] * 5)
    manifest = _manifest(schema)
    manifest["nodes"]["model.p.training"] = {"resource_type": "model", "name": "training",
                                             "relation_name": f'{schema}."training"', "columns": {"x": {"name": "x"}}}
    manifest["nodes"]["model.p.served"] = {
        "resource_type": "model", "name": "served", "relation_name": f'{schema}."served"',
        "config": {"meta": {"fw": {"kind": "feature_view", "timestamp": "served_at"}}},
        "columns": {"served_x": {"name": "served_x", "config": {"meta": {"fw": {"served_from": "fv:x"}}}}}}
    view = view_monitors(manifest)["fv"]
    result = monitor_view(wh, manifest, view, baseline="training:training", current="served", now=NOW)
    assert result.current == "served log served" and result.baseline == "training set training"
    (x,) = [f for f in result.features if f.feature == "x"]
    assert [f.feature for f in result.features if f.current is not None] == ["x"]  # only x was served
    assert x.baseline.rows == 3000 and x.current.rows == 3000 and x.psi < 0.1
    assert x.current.null_rate == pytest.approx(0.5)
    assert [(b.feature, b.metric) for b in result.breaches if b.feature] == [("x", "null_rate_change")]
