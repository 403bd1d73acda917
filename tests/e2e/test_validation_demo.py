"""The committed demo suites pass on a fresh demo build (DuckDB and PostgreSQL); broken
data fails `fwctl validate` with the exact count and is refused by `sync-online`
unless `--skip-validation`; a model without a suite fails the coverage gate."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from demo_project import copy_demo_project

from featurewarehouse.config import load_config
from featurewarehouse.demo.generate import DemoSpec, generate

pytestmark = pytest.mark.slow

SPEC = DemoSpec(rows=5_000, seed=11, days=60, end=dt.date(2025, 5, 1))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("validation_e2e")
    project = copy_demo_project(root / "project", expectations=True)
    generate(SPEC, root / "data" / "raw")
    return root, project


def _env(mp, root: Path, name: str) -> None:
    for var in ("FW_TARGET", "FW_PROJECT_DIR", "FW_PROFILES_DIR", "FW_FEATURE_LOG_PATH", "FW_ONLINE_STORE"):
        mp.delenv(var, raising=False)
    mp.setenv("FW_DATA_DIR", str(root / "data"))
    mp.setenv("FW_DUCKDB_PATH", str(root / f"{name}.duckdb"))
    mp.setenv("DBT_TARGET_PATH", str(root / f"target_{name}"))
    mp.setenv("FW_ONLINE_STORE", f"sqlite:///{root / f'online_{name}.db'}")


def fwctl(*args: str) -> subprocess.CompletedProcess:
    """fwctl in its own process, as users run it (dbt ran in this one and holds the DuckDB file)."""
    return subprocess.run([sys.executable, "-m", "featurewarehouse.cli.main", *args],
                          capture_output=True, text=True, timeout=600)


def _dbt_build(project: Path, target: str) -> None:
    """dbt in its own process too: in this one, dbt-duckdb would keep the file open."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--quiet", "--project-dir", str(project),
         "--profiles-dir", str(project), "--target", target],
        capture_output=True, text=True, timeout=600, cwd=project,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _validate(capsys, project: Path, *extra: str) -> tuple[int, dict]:
    done = fwctl("validate", "--json", "--project-dir", str(project), *extra)
    assert done.stdout, (done.returncode, done.stderr[-3000:])
    return done.returncode, json.loads(done.stdout)


def test_demo_validates_on_duckdb_and_the_gate_blocks_bad_data(demo, capsys):
    import duckdb

    root, project = demo
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, root, "duckdb")
        _dbt_build(project, "dev")
        assert fwctl("registry", "build", "--project-dir", str(project)).returncode == 0

        code, out = _validate(capsys, project)
        assert code == 0, [(m["model"], m["error"], [o["label"] for o in m["outcomes"] if not o["success"]])
                           for m in out["models"] if not m["success"]]
        names = {m["model"] for m in out["models"]}
        assert {"stg_transactions", "customer_spend_features", "fraud_training_set", "feature_log"} <= names
        assert out["summary"]["missing_suites"] == 0
        assert Path(out["data_docs"]).is_file()
        done = fwctl("sync-online", "--project-dir", str(project))
        assert done.returncode == 0, done.stderr[-2000:]

        # Issue 17: a check tightened in YAML (max 1 -> 0.001) and regenerated is noticed:
        # the sync is refused before validation runs again, naming what changed.
        yml = project / "models" / "features" / "merchant_risk_features.yml"
        original = yml.read_text()
        assert "checks: {min: 0, max: 1}}" in original
        yml.write_text(original.replace("checks: {min: 0, max: 1}}", "checks: {min: 0, max: 0.001}}"))
        try:
            generated = fwctl("expectations", "generate", "--select", "merchant_risk_features",
                              "--project-dir", str(project))
            assert generated.returncode == 0, generated.stderr[-2000:]
            done = fwctl("sync-online", "--full-refresh", "--select", "merchant_risk_features",
                         "--project-dir", str(project))
            assert done.returncode == 1, done.stdout[-2000:]
            err = " ".join(done.stderr.split())
            assert "its suite expectations/merchant_risk_features.json changed" in err
            assert "the checks its YAML declares changed" in err
            code, out = _validate(capsys, project, "--select", "merchant_risk_features")
            assert code == 1  # the tightened check fails on this data, as the gate assumed it might
        finally:
            yml.write_text(original)
            assert fwctl("expectations", "generate", "--select", "merchant_risk_features",
                         "--project-dir", str(project)).returncode == 0
        code, _ = _validate(capsys, project, "--select", "merchant_risk_features")
        assert code == 0

        con = duckdb.connect(str(root / "duckdb.duckdb"))
        con.execute("update customer_spend_features set amount_sum_24h = -1 where transaction_id % 97 = 0")
        broken = con.execute("select count(*) from customer_spend_features where amount_sum_24h < 0").fetchone()[0]
        con.close()
        assert broken > 0
        code, out = _validate(capsys, project, "--select", "customer_spend_features")
        assert code == 1
        (model,) = out["models"]
        failed = [o for o in model["outcomes"] if not o["success"]]
        assert [(o["label"], o["unexpected_count"]) for o in failed] == [
            ("expect_column_values_to_be_between(amount_sum_24h)", broken)]
        assert failed[0]["sample_values"] == [-1.0] * min(5, broken)

        done = fwctl("sync-online", "--project-dir", str(project))
        assert done.returncode == 1
        err = " ".join(done.stderr.split())  # rich wraps lines
        assert "customer_spend_features" in err and "expect_column_values_to_be_between(amount_sum_24h)" in err
        done = fwctl("sync-online", "--skip-validation", "--project-dir", str(project))
        assert done.returncode == 0, done.stderr[-2000:]
        assert "WARNING: --skip-validation" in done.stderr

        (project / "expectations" / "stg_merchants.json").rename(root / "stg_merchants.json.bak")
        try:
            code, out = _validate(capsys, project, "--select", "stg_merchants")
            assert code == 1 and out["summary"]["missing_suites"] == 1
            assert "no expectation suite" in out["models"][0]["error"]
        finally:
            (root / "stg_merchants.json.bak").rename(project / "expectations" / "stg_merchants.json")


@pytest.mark.postgres
def test_demo_validates_on_postgres(demo, capsys, pg_schema, postgres_uri):
    from featurewarehouse.demo.load import load_raw_tables

    root, project = demo
    try:
        with pytest.MonkeyPatch.context() as mp:
            _env(mp, root, "postgres")
            mp.setenv("FW_PG_SCHEMA", pg_schema)
            mp.setenv("FW_TARGET", "postgres")
            config = load_config(project, target="postgres")
            load_raw_tables(config)
            _dbt_build(project, "postgres")
            code, out = _validate(capsys, project)
            assert code == 0, [(m["model"], m["error"], [(o["label"], o["observed_value"], o["exception"])
                                                         for o in m["outcomes"] if not o["success"]])
                               for m in out["models"] if not m["success"]]

            import adbc_driver_postgresql.dbapi as adbc

            with adbc.connect(postgres_uri, autocommit=True) as con, con.cursor() as cur:
                cur.execute(f'update "{pg_schema}".customer_spend_features set amount_sum_24h = -1 '
                            "where transaction_id % 97 = 0")
                cur.execute(f'select count(*) from "{pg_schema}".customer_spend_features where amount_sum_24h < 0')
                broken = cur.fetchone()[0]
            code, out = _validate(capsys, project, "--select", "customer_spend_features")
            assert code == 1
            failed = [o for o in out["models"][0]["outcomes"] if not o["success"]]
            assert [(o["label"], o["unexpected_count"]) for o in failed] == [
                ("expect_column_values_to_be_between(amount_sum_24h)", broken)]
    finally:
        import adbc_driver_postgresql.dbapi as adbc

        with adbc.connect(postgres_uri, autocommit=True) as con, con.cursor() as cur:
            cur.execute(f'drop schema if exists "{pg_schema}_raw" cascade')
