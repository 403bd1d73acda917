"""Historical retrieval on Spark: a DataFrame or Parquet spine in, Arrow (or a table) out,
the same answers as the dbt model built on Spark and as the hand-checked ones.

One dbt invocation builds the historical fixture project on the session's Spark Connect
server; the spine reaches Spark as Arrow and the result streams back as Arrow batches.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))  # historical_support

from historical_support import (  # noqa: E402
    EXPECTED,
    FEATURE_COLUMNS,
    FEATURES,
    ISOLATE_ENV,
    SPINE_COLUMNS,
    check_parquet_spine_to_parquet_file,
    copy_project,
    fetch,
    features_by_label,
    rows_of,
    spine_frame,
)

pytestmark = pytest.mark.spark


@pytest.fixture
def spark_store(tmp_path, spark_remote, spark_schema, monkeypatch):
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.store import FeatureStore

    for name in ISOLATE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FW_SPARK_REMOTE", spark_remote)
    monkeypatch.setenv("FW_SPARK_SCHEMA", spark_schema)
    project = copy_project(tmp_path / "project")
    # the seeds' `double precision` is PostgreSQL's and DuckDB's name; Spark calls it double
    yml = project / "dbt_project.yml"
    yml.write_text(yml.read_text().replace("double precision", "double"))
    # the training set is built as a plain model here: what this test compares is its rows
    # (its meta.fw contract is tested on DuckDB, tests/dbt/test_historical_duckdb.py)
    (project / "models" / "training" / "training_set.yml").unlink()
    config = load_config(project, target="spark")
    run_dbt(config, ["build"], quiet=True)
    store = FeatureStore(config=config)
    yield store
    from featurewarehouse.offline.warehouse import connect

    with connect(config) as wh:
        wh.execute(f"drop schema if exists {spark_schema} cascade")


def test_spark_historical_retrieval_matches_the_dbt_model(spark_store, spark_schema, tmp_path):
    store = spark_store
    df = spine_frame()

    # a pandas spine, uploaded as Arrow: the rows the dbt model built on Spark, in spine order
    got = store.get_historical_features(df, FEATURES, timestamp_column="event_ts").to_arrow()
    assert got.column_names == SPINE_COLUMNS + FEATURE_COLUMNS
    assert got.column("label_id").to_pylist() == list(range(1, 11))
    model = fetch(store, f"select * from {spark_schema}.training_set")
    assert sorted(rows_of(got, got.column_names)) == sorted(rows_of(model, got.column_names))
    assert features_by_label(got) == EXPECTED

    # a Parquet spine, into a Parquet file (streamed back in batches)
    check_parquet_spine_to_parquet_file(store, df, tmp_path)

    # ... or into a warehouse table
    result = store.get_historical_features(df, FEATURES, timestamp_column="event_ts",
                                           output=f"{spark_schema}.train_py")
    assert (result.output_kind, result.num_rows) == ("table", 10)
    table = fetch(store, f"select * from {spark_schema}.train_py")
    assert table.num_rows == 10 and features_by_label(table) == EXPECTED

    # empty spine: no rows, every column
    out = store.get_historical_features(df.iloc[0:0], FEATURES, timestamp_column="event_ts").to_arrow()
    assert (out.num_rows, out.column_names) == (0, SPINE_COLUMNS + FEATURE_COLUMNS)

    # a SQL spine never leaves Spark: its rows come back in its query's order (its ORDER BY),
    # numbered 0, 1, ... as on the other engines (Spark has no sequence: staging numbers them)
    query = f"select * from {spark_schema}.spine_labels where label_id > 2 order by label_id desc"
    got = store.get_historical_features(query, FEATURES, timestamp_column="event_ts", row_id_column="row_id").to_arrow()
    assert got.column("label_id").to_pylist() == list(range(10, 2, -1))
    assert got.column("row_id").to_pylist() == list(range(8))
    assert features_by_label(got) == {k: v for k, v in EXPECTED.items() if k > 2}
    result = store.get_historical_features(f"{spark_schema}.spine_labels", FEATURES, timestamp_column="event_ts",
                                           output=f"{spark_schema}.train_sql")
    assert (result.output_kind, result.num_rows) == ("table", 10)
    assert features_by_label(fetch(store, f"select * from {spark_schema}.train_sql")) == EXPECTED
