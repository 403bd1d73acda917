"""fwctl skew finds exactly the skew injected into logged vectors (DuckDB fixture project).

The fixture project (tests/dbt/historical_project) is built once; logged vectors
are written with the feature-log sink at historical served_at times, serving the
point-in-time values except for known injected differences.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest

from historical_support import ISOLATE_ENV, copy_project

T0 = dt.datetime(2024, 1, 2, 12, 0, 0)
FEATURES = ["customer_features:spend_7d", "customer_features:txn_count", "merchant_features:chargeback_rate"]


@dataclass(frozen=True)
class Served:
    feature_names: tuple
    values: tuple
    statuses: tuple
    event_timestamps: tuple


def vector(customer, merchant, spend, txn, rate, statuses=("PRESENT",) * 3) -> Served:
    return Served(
        ("customer_id", "merchant_id", "spend_7d", "txn_count", "chargeback_rate"),
        ((customer,), (merchant,), (spend,), (txn,), (rate,)),
        (("PRESENT",), ("PRESENT",), *((s,) for s in statuses)),
        ((None,),) * 5,
    )


def write_logs(path) -> None:
    """10 vectors. The warehouse's PIT answer for customer 1 / merchant 2 at these times is
    (21.0, 3, 0.01); customer/merchant 999 have no data. Injected: spend_7d stale (20.0) in
    vectors 0-1, txn_count NOT_FOUND in vector 2, chargeback_rate 0.50 (a backfilled value not
    yet available) in vectors 3-5; vector 6 differs by 1e-15 only (not skew)."""
    from featurewarehouse.serving.logging import FeatureLogSink

    with FeatureLogSink(path) as sink:
        for i in range(8):
            spend = 20.0 if i in (0, 1) else 21.0
            txn, statuses = (None, ("PRESENT", "NOT_FOUND", "PRESENT")) if i == 2 else (3, ("PRESENT",) * 3)
            rate = 0.50 if i in (3, 4, 5) else (0.01 + 1e-15 if i == 6 else 0.01)
            sink.log(vector(1, 2, spend, txn, rate, statuses), FEATURES, request_id=f"r{i}",
                     served_at=T0 + dt.timedelta(hours=i))
        for i in (8, 9):
            sink.log(vector(999, 999, None, None, None, ("NOT_FOUND",) * 3), FEATURES, request_id=f"r{i}",
                     served_at=T0 + dt.timedelta(hours=i))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt

    with pytest.MonkeyPatch.context() as mp:
        for name in (*ISOLATE_ENV, "FW_FEATURE_LOG_PATH"):
            mp.delenv(name, raising=False)
        root = tmp_path_factory.mktemp("skew")
        project = copy_project(root / "project")
        config = load_config(project, target="dev")
        run_dbt(config, ["build"], quiet=True)
        write_logs(root / "logs")
        yield config, root / "logs"


def test_skew_reports_exact_rates_for_injected_skew(project):
    from featurewarehouse.serving.skew import compute_skew

    config, logs = project
    report = compute_skew(config, log_path=logs, threshold=0.15)
    assert report.vectors == 10 and report.log_rows == 30
    by = {f.feature: f for f in report.features}
    assert sorted(by) == sorted(FEATURES)

    spend = by["customer_features:spend_7d"]
    assert (spend.compared, spend.matches, spend.match_rate) == (10, 8, 0.8)
    assert {ex["request_id"] for ex in spend.examples} == {"r0", "r1"}
    assert (spend.examples[0]["served"], spend.examples[0]["pit"]) == (20.0, 21.0)
    assert (spend.served_missing_rate, spend.pit_missing_rate) == (0.2, 0.2)

    txn = by["customer_features:txn_count"]
    assert (txn.matches, txn.match_rate, txn.served_missing_rate, txn.pit_missing_rate) == (9, 0.9, 0.3, 0.2)
    assert [(ex["request_id"], ex["status"], ex["pit"]) for ex in txn.examples] == [("r2", "NOT_FOUND", 3)]

    rate = by["merchant_features:chargeback_rate"]
    assert (rate.matches, rate.match_rate) == (7, 0.7)  # the 1e-15 difference is within tolerance
    assert {ex["request_id"] for ex in rate.examples} == {"r3", "r4", "r5"}

    assert [f.feature for f in report.failing] == ["customer_features:spend_7d", "merchant_features:chargeback_rate"]


def test_select_and_since_narrow_the_comparison(project):
    from featurewarehouse.serving.skew import compute_skew

    config, logs = project
    report = compute_skew(config, log_path=logs, select=["merchant_features"], since=T0 + dt.timedelta(hours=4))
    (only,) = report.features
    # vectors 4..9: 0.50 served in 4 and 5
    assert (only.feature, only.compared, only.matches) == ("merchant_features:chargeback_rate", 6, 4)


def test_cli_exits_1_above_the_threshold_and_0_below(project, capsys):
    from featurewarehouse.cli.main import main

    config, logs = project
    args = ["skew", "--project-dir", str(config.project_dir), "--logs", str(logs), "--json"]
    assert main([*args, "--threshold", "0.15"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failing"] == ["customer_features:spend_7d", "merchant_features:chargeback_rate"]
    assert [f["match_rate"] for f in out["features"]] == [0.8, 0.9, 0.7]
    assert main([*args, "--threshold", "0.3"]) == 0


def test_no_logs_is_an_empty_report(project, tmp_path):
    from featurewarehouse.serving.skew import compute_skew

    config, _ = project
    report = compute_skew(config, log_path=tmp_path / "none")
    assert report.features == () and report.failing == ()


def test_since_parsing():
    from featurewarehouse.errors import ConfigError
    from featurewarehouse.serving.skew import parse_since

    assert parse_since("2024-01-02T12:00:00Z") == T0
    assert parse_since("3h", now=T0) == T0 - dt.timedelta(hours=3)
    with pytest.raises(ConfigError, match="cannot read --since"):
        parse_since("yesterday")


@pytest.mark.postgres
def test_skew_on_postgres_matches_duckdb(tmp_path, pg_schema, monkeypatch):
    """The same logs against the same fixture built in PostgreSQL: the same rates."""
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.serving.skew import compute_skew

    for name in (*ISOLATE_ENV, "FW_FEATURE_LOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FW_PG_SCHEMA", pg_schema)
    project = copy_project(tmp_path / "project")
    config = load_config(project, target="postgres")
    run_dbt(config, ["build"], quiet=True)
    write_logs(tmp_path / "logs")
    report = compute_skew(config, log_path=tmp_path / "logs", threshold=0.15)
    assert {f.feature: (f.matches, f.compared) for f in report.features} == {
        "customer_features:spend_7d": (8, 10),
        "customer_features:txn_count": (9, 10),
        "merchant_features:chargeback_rate": (7, 10),
    }
