"""On the demo project: the Python path returns exactly the fraud_training_set model's rows.

A copy of the project builds a small generated dataset on DuckDB; the labels
are then read into pandas, shuffled, and sent through
``FeatureStore.get_historical_features`` with the model's feature list.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas.testing as pdt
import pytest
from demo_project import copy_demo_project

from featurewarehouse.config import load_config
from featurewarehouse.dbt import run_dbt
from featurewarehouse.demo.generate import DemoSpec, generate
from featurewarehouse.offline.warehouse import connect

pytestmark = pytest.mark.slow

FEATURES = [
    "customer_spend_features:*",
    "customer_profile_features:*",
    "customer_merchant_features:*",
    "merchant_risk_features:chargeback_rate_90d",
    "merchant_risk_features:merchant_txn_count_90d",
]  # as in models/training/fraud_training_set.sql


def test_python_training_set_equals_the_dbt_model(tmp_path, monkeypatch):
    from featurewarehouse.store import FeatureStore

    project = copy_demo_project(tmp_path / "project")
    for var in ("FW_TARGET", "FW_PROJECT_DIR", "FW_PROFILES_DIR", "FW_FEATURE_LOG_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FW_DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    generate(DemoSpec(rows=20_000, seed=11, days=90, end=dt.date(2025, 5, 1)), tmp_path / "data" / "raw")
    config = load_config(project, target="dev")
    run_dbt(config, ["build", "--select", "+fraud_training_set"], quiet=True)

    with connect(config) as wh:
        labels = wh.fetch_arrow("select * from fraud_labels").to_pandas().sample(frac=1, random_state=3)
        model = wh.fetch_arrow("select * from fraud_training_set").to_pandas()
    assert len(labels) > 1000

    got = FeatureStore(config=config).get_historical_features(
        labels, FEATURES, timestamp_column="event_ts").to_pandas()
    assert got["transaction_id"].tolist() == labels["transaction_id"].tolist()  # the spine's order
    assert list(got.columns) == list(model.columns)
    pdt.assert_frame_equal(
        got.sort_values("transaction_id").reset_index(drop=True),
        model.sort_values("transaction_id").reset_index(drop=True),
        check_dtype=False,
    )
    # not a vacuous comparison: most rows have customer features
    assert got["txn_count_30d"].notna().mean() > 0.9
