"""Historical retrieval on PostgreSQL: the same answers as the dbt model, every spine kind, both outputs.

One test builds the fixture project into a fresh schema (the ``pg_schema``
fixture) and checks the Python path against it; Postgres receives the spine
over ADBC (COPY) and the result streams back as Arrow batches.
"""
from __future__ import annotations

import pyarrow as pa
import pytest

from featurewarehouse.errors import ConfigError
from historical_support import (
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

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(tmp_path, pg_schema, monkeypatch):
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.store import FeatureStore

    for name in ISOLATE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FW_PG_SCHEMA", pg_schema)
    project = copy_project(tmp_path / "project")
    config = load_config(project, target="postgres")
    run_dbt(config, ["build"], quiet=True)
    return FeatureStore(config=config)


def test_postgres_python_path_matches_the_dbt_model(pg_store, pg_schema, tmp_path):
    store = pg_store
    df = spine_frame()

    # parity: pandas spine uploaded over COPY vs the model dbt built
    got = store.get_historical_features(df, FEATURES, timestamp_column="event_ts").to_arrow()
    assert got.column_names == SPINE_COLUMNS + FEATURE_COLUMNS
    model = fetch(store, f'select * from "{pg_schema}".training_set')
    assert sorted(rows_of(got, got.column_names)) == sorted(rows_of(model, got.column_names))
    assert features_by_label(got) == EXPECTED

    # order and duplicates, aware timestamps converted to UTC
    shuffled = df.iloc[[9, 2, 2, 0, 5]].reset_index(drop=True)
    shuffled["event_ts"] = shuffled["event_ts"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
    out = store.get_historical_features(shuffled, FEATURES, timestamp_column="event_ts").to_arrow()
    assert out.column("label_id").to_pylist() == [10, 3, 3, 1, 6]
    assert [features_by_label(out)[k] for k in (10, 3, 1, 6)] == [EXPECTED[k] for k in (10, 3, 1, 6)]

    # a SQL spine never leaves the warehouse, and keeps the query's order
    got = store.get_historical_features(
        f'select * from "{pg_schema}".spine_labels order by label_id desc', FEATURES,
        timestamp_column="event_ts",
    ).to_arrow()
    assert got.column("label_id").to_pylist() == list(range(10, 0, -1))
    assert features_by_label(got) == EXPECTED

    # a Parquet spine streams in over COPY; the result goes to a Parquet file
    check_parquet_spine_to_parquet_file(store, df, tmp_path)

    # ... or to a table, created in one transaction
    result = store.get_historical_features(df, FEATURES, timestamp_column="event_ts",
                                           output=f"{pg_schema}.train_py")
    assert (result.output_kind, result.num_rows) == ("table", 10)
    assert features_by_label(fetch(store, f'select * from "{pg_schema}".train_py')) == EXPECTED

    # a DATE spine column is midnight UTC
    days = pa.table({"customer_id": pa.array([1, 1, 1], pa.int64()),
                     "day": pa.array(["2024-01-02", "2024-01-07", "2024-01-08"]).cast(pa.date32())})
    out = store.get_historical_features(days, ["customer_features:txn_count"]).to_arrow()
    assert out.column("txn_count").to_pylist() == [3, 5, None]

    # the same type check as on DuckDB, here on the warehouse's own types
    with pytest.raises(ConfigError, match=r"'customer_id' is a string \(string\), but entity 'customer'"):
        store.get_historical_features(
            f'select cast(customer_id as text) as customer_id, event_ts from "{pg_schema}".spine_labels',
            ["customer_features:txn_count"], timestamp_column="event_ts",
        )

    # empty spine
    out = store.get_historical_features(df.iloc[0:0], FEATURES, timestamp_column="event_ts").to_arrow()
    assert (out.num_rows, out.column_names) == (0, SPINE_COLUMNS + FEATURE_COLUMNS)

    # all-NULL (untyped) key and time columns still compare, and every row comes back
    nulls = pa.table({"customer_id": pa.nulls(2), "event_ts": pa.nulls(2), "tag": ["a", "b"]})
    out = store.get_historical_features(nulls, ["customer_features:txn_count"], timestamp_column="event_ts").to_arrow()
    assert (out.column("tag").to_pylist(), out.column("txn_count").to_pylist()) == (["a", "b"], [None, None])

    # the command, on Postgres: a SQL spine into a table, never through Python
    from featurewarehouse.cli.main import main

    args = ["historical", "--project-dir", str(store.config.project_dir), "--target", "postgres",
            "--spine", f'select * from "{pg_schema}".spine_labels', "--timestamp-column", "event_ts",
            "--out", f"{pg_schema}.train_cli"]
    for f in FEATURES:
        args += ["-f", f]
    assert main(args) == 0
    assert features_by_label(fetch(store, f'select * from "{pg_schema}".train_cli')) == EXPECTED
