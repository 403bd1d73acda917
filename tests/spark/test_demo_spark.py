"""`FW_TARGET=spark fwctl demo` on the session's Spark Connect server, end to end at a small size:
generate, load the raw tables, dbt build (dbt-spark over Spark Connect), registry, validate in the
warehouse, sync into SQLite and read back; then served vectors through the feature-log models."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))  # the shared demo-project copier
from demo_project import copy_demo_project  # noqa: E402

from featurewarehouse.cli.main import main  # noqa: E402

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ONLINE_VIEWS = {"customer_spend_features", "merchant_risk_features",
                "customer_profile_features", "customer_merchant_features"}


@pytest.fixture
def project(tmp_path, monkeypatch, spark_env, spark_schema) -> Path:
    dst = copy_demo_project(tmp_path / "project", expectations=True)
    for var in ("FW_PROJECT_DIR", "FW_PROFILES_DIR", "FW_FEATURE_LOG_PATH", "FW_DATA_DIR",
                "FW_DUCKDB_PATH", "DBT_TARGET_PATH", "FW_ONLINE_STORE", "DBT_TARGET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FW_TARGET", "spark")
    monkeypatch.setenv("FW_SPARK_REMOTE", spark_env)
    monkeypatch.setenv("FW_SPARK_SCHEMA", spark_schema)
    monkeypatch.chdir(dst)
    yield dst
    from featurewarehouse.offline.spark import SparkWarehouse

    with SparkWarehouse(spark_env, schema=spark_schema) as wh:
        for schema in (spark_schema, f"{spark_schema}_raw"):
            wh.execute(f"drop schema if exists {schema} cascade")


def test_demo_runs_the_whole_loop_on_spark(project, capsys, spark_schema):
    import subprocess

    from featurewarehouse.offline.spark import SparkWarehouse

    assert main(["demo", "--rows", "2000", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["target"] == "spark"
    assert run["loaded"] is not None  # the raw Parquet went into <schema>_raw over Spark Connect
    models = {m["name"]: m for m in run["models"]}
    assert all(m["status"] == "success" for m in models.values())
    assert models["stg_transactions"]["rows"] == 2000
    assert models["feature_log"]["rows"] == 0  # built empty from the pre-hook's table
    assert run["validation"]["expectations_failed"] == 0 and run["validation"]["missing_suites"] == 0
    synced = {v["view"]: v for v in run["sync"]["views"]}
    assert set(synced) == ONLINE_VIEWS
    assert all(v["mode"] == "full" and v["written"] > 0 for v in synced.values())
    read = run["online_read"]
    assert all(s == "PRESENT" for r in read["results"] for s in r["statuses"])
    assert (project / "data" / "online.db").is_file()

    # served vectors, as `fwctl serve --log` writes them, through the feature-log models: JSON
    # entity keys and values (a number, an escaped string, a JSON null) read back typed
    logged = [("txn_count_1h", "customer_spend_features", "2"),
              ("home_country", "customer_profile_features", '"F\\\\"R"'),  # Spark SQL unescapes \\ to \
              ("card_type", "customer_profile_features", "null")]
    rows = ", ".join(
        f"('r1', timestamp'2026-01-02 03:04:05', 0, '{{\"customer_id\":7,\"merchant_id\":3}}', '{view}', "
        f"'{name}', '{value}', 'PRESENT', timestamp'2026-01-02 03:00:00', 'fraud')"
        for name, view, value in logged)
    with SparkWarehouse(os.environ["FW_SPARK_REMOTE"], schema=spark_schema) as wh:
        wh.execute(f"insert into {spark_schema}_raw.feature_log_raw values {rows}")
    dbt = Path(sys.executable).parent / "dbt"
    done = subprocess.run([str(dbt), "build", "-s", "feature_log+", "--target", "spark", "--profiles-dir", "."],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    with SparkWarehouse(os.environ["FW_SPARK_REMOTE"], schema=spark_schema) as wh:
        vectors = wh.fetch_arrow(f"select customer_id, merchant_id, n_features from {spark_schema}.feature_log_vectors")
        served = wh.fetch_arrow(f"select txn_count_1h, home_country, card_type from {spark_schema}.served_fraud_features")
    assert vectors.to_pylist() == [{"customer_id": 7, "merchant_id": 3, "n_features": 3}]
    assert served.to_pylist() == [{"txn_count_1h": 2, "home_country": 'F"R', "card_type": None}]
