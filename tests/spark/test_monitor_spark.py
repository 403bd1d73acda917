"""``fwctl monitor`` on Spark: the same generated rows profiled on Spark and on DuckDB give
the same report (row, null and bin counts, bin edges, min and max exactly; means,
deviations, quantiles and PSI to float tolerance; approximate distinct counts within
their error), and a drifted day breaches on both while a stable one does not.
tests/contract/test_monitoring_engines.py checks DuckDB and PostgreSQL against numpy.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from featurewarehouse.monitoring.run import monitor_view
from featurewarehouse.monitoring.spec import view_monitors
from featurewarehouse.offline.duckdb import DuckDBWarehouse

pytestmark = pytest.mark.spark

DAYS = [dt.datetime(2025, 6, 1), dt.datetime(2025, 6, 2), dt.datetime(2025, 6, 3)]
NOW = dt.datetime(2025, 6, 4, tzinfo=dt.timezone.utc)
ROWS = 3000
CATS = [f"c{i:02d}" for i in range(26)]  # more than TOP_CATEGORIES: some fall in "other"


def _manifest(schema: str) -> dict:
    fw = {"kind": "feature_view", "timestamp": "ts", "created_timestamp": "loaded_at", "ttl": "1d",
          "freshness": {"max_age": "30d"}, "monitor": {"psi": 0.2, "null_rate_change": 0.1, "blocking": True}}
    cols = {"x": "double", "n": "bigint", "cat": "varchar"}
    return {"nodes": {"model.p.fv": {
        "resource_type": "model", "name": "fv", "relation_name": f'"{schema}"."fv"', "config": {"meta": {"fw": fw}},
        "columns": {c: {"name": c, "data_type": t, "config": {"meta": {"fw": {"feature": True}}}} for c, t in cols.items()},
    }}}


def _day(rng: np.random.Generator, mean: float, null_rate: float, cat_weights: np.ndarray) -> dict:
    x = rng.normal(mean, 10, ROWS).round(3)
    missing = rng.random(ROWS) < null_rate
    xs = [None if m else float(v) for v, m in zip(x, missing)]
    xs[0] = float("nan")  # NaN counts as missing on every engine
    cats = rng.choice(CATS, ROWS, p=cat_weights / cat_weights.sum())
    return {"x": xs, "n": [None if v is None or v != v else int(v) for v in xs],
            "cat": [None if i % 97 == 0 else str(c) for i, c in enumerate(cats)]}


def _table() -> pa.Table:
    """Day 1 and 2 from one distribution; day 3 shifted (x and n up 3 sigma, categories reversed, more nulls)."""
    rng = np.random.default_rng(19)
    weights = np.linspace(3, 1, len(CATS))
    days = [_day(rng, 100, 0.02, weights), _day(rng, 100, 0.02, weights), _day(rng, 130, 0.3, weights[::-1])]
    ts = [d + dt.timedelta(seconds=17 * i) for d in DAYS for i in range(ROWS)]
    return pa.table({
        "ts": pa.array(ts, pa.timestamp("us")),
        "loaded_at": pa.array([t + dt.timedelta(minutes=5) for t in ts], pa.timestamp("us")),
        "x": pa.array([v for d in days for v in d["x"]], pa.float64()),
        "n": pa.array([v for d in days for v in d["n"]], pa.int64()),
        "cat": pa.array([v for d in days for v in d["cat"]], pa.string()),
    })


def _monitor(wh, schema: str, **kw):
    manifest = _manifest(schema)
    return monitor_view(wh, manifest, view_monitors(manifest)["fv"], baseline="previous", now=NOW, **kw)


def _distinct(table: pa.Table, day: str, feature: str) -> int:
    """The exact number of distinct non-missing values of ``feature`` on ``day``."""
    values = table.column(feature).to_pylist()
    days = [t.date().isoformat() for t in table.column("ts").to_pylist()]
    return len({v for v, d in zip(values, days) if d == day and v is not None and v == v})


def _same_profile(spark, duck, where: str, exact_distinct: int) -> None:
    assert (spark is None) == (duck is None), where
    if duck is None:
        return
    assert (spark.rows, spark.non_null, spark.bins) == (duck.rows, duck.non_null, duck.bins), where
    assert (spark.min, spark.max) == (duck.min, duck.max), where
    floats = {"mean": duck.mean, "stddev": duck.stddev, **duck.quantiles}  # None for a categorical feature
    got = {"mean": spark.mean, "stddev": spark.stddev, **spark.quantiles}
    assert got.keys() == floats.keys(), where
    for name, v in floats.items():
        assert got[name] == (None if v is None else pytest.approx(v, rel=1e-9)), f"{where}: {name}"
    # a HyperLogLog sketch (Spark's default relative standard deviation: 5%); DuckDB's own is
    # further off here (3507 for 2940 values), so each is held to the exact count, not to the other
    assert spark.distinct == pytest.approx(exact_distinct, rel=0.15), f"{where}: distinct"


def _same_result(spark, duck, table: pa.Table) -> None:
    assert (spark.window, spark.baseline, spark.current) == (duck.window, duck.baseline, duck.current)
    assert spark.freshness == duck.freshness
    assert [f.feature for f in spark.features] == [f.feature for f in duck.features] == ["x", "n", "cat"]
    for s, d in zip(spark.features, duck.features):
        where = f"{spark.window} {s.feature}"
        if s.kind == "numeric":
            assert s.bins == pytest.approx(d.bins, rel=1e-12), where
        else:
            assert s.bins == d.bins, where
        before = (dt.date.fromisoformat(spark.window) - dt.timedelta(days=1)).isoformat()
        _same_profile(s.baseline, d.baseline, f"{where} baseline", _distinct(table, before, s.feature))
        _same_profile(s.current, d.current, f"{where} current", _distinct(table, spark.window, s.feature))
        assert s.psi == pytest.approx(d.psi, rel=1e-9), where
        assert s.psi_by_window.keys() == d.psi_by_window.keys(), where
        for w, v in d.psi_by_window.items():
            assert s.psi_by_window[w] == pytest.approx(v, rel=1e-9, abs=1e-12), f"{where} psi of {w}"
    key = lambda b: (b.feature, b.metric, b.blocking)  # noqa: E731
    assert sorted(map(key, spark.breaches), key=str) == sorted(map(key, duck.breaches), key=str)


def test_monitor_on_spark_equals_duckdb_and_a_drifted_day_breaches(spark_remote, spark_schema):
    from featurewarehouse.offline.spark import SparkWarehouse

    table = _table()
    with DuckDBWarehouse(":memory:") as duck:
        duck.upload_arrow("fv", table, temporary=False, schema="main")
        duck_drifted, duck_stable = _monitor(duck, "main"), _monitor(duck, "main", window=DAYS[1].date())
    with SparkWarehouse(spark_remote, schema=spark_schema) as wh:
        try:
            wh.upload_arrow("fv", table, temporary=False, schema=spark_schema)
            drifted, stable = _monitor(wh, spark_schema), _monitor(wh, spark_schema, window=DAYS[1].date())
        finally:
            wh.execute(f"drop schema if exists {spark_schema} cascade")

    _same_result(drifted, duck_drifted, table)
    _same_result(stable, duck_stable, table)
    by = {f.feature: f for f in drifted.features}
    assert len(by["x"].bins) == 9 and len(by["cat"].bins) == 20  # deciles; the 20 most frequent categories
    assert by["x"].current.rows == ROWS and by["x"].current.null_rate > 0.25
    assert {(b.feature, b.metric) for b in drifted.breaches} == {
        ("x", "psi"), ("n", "psi"), ("cat", "psi"), ("x", "null_rate_change"), ("n", "null_rate_change"),
    }
    assert drifted.window == "2025-06-03" and stable.window == "2025-06-02"
    assert stable.breaches == () and max(f.psi for f in stable.features) < 0.05
