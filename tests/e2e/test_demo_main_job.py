"""`fwctl demo`, the main job, end to end on a copy of the project: generate, build,
registry, validate, sync, read back. A second run is incremental and moves nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from demo_project import copy_demo_project

from featurewarehouse.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    dst = copy_demo_project(tmp_path / "project", expectations=True)
    for var in ("FW_TARGET", "FW_PROJECT_DIR", "FW_PROFILES_DIR", "FW_FEATURE_LOG_PATH", "FW_DATA_DIR",
                "FW_DUCKDB_PATH", "DBT_TARGET_PATH", "FW_ONLINE_STORE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(dst)
    return dst


def test_demo_ends_with_a_sync_and_an_online_read(project, capsys):
    assert main(["demo", "--rows", "20000", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["validation"]["expectations_failed"] == 0 and run["validation"]["missing_suites"] == 0
    synced = {v["view"]: v for v in run["sync"]["views"]}
    assert set(synced) == {"customer_spend_features", "merchant_risk_features",
                           "customer_profile_features", "customer_merchant_features"}
    assert all(v["mode"] == "full" and v["written"] > 0 for v in synced.values())
    read = run["online_read"]
    names = read["metadata"]["feature_names"]
    assert names[0] in ("customer_id", "merchant_id") and len(read["results"]) == len(names)
    # the keys that transacted last: their short-TTL spend features are present
    assert all(s == "PRESENT" for r in read["results"] for s in r["statuses"])
    assert (project / "data" / "online.db").is_file()

    assert main(["demo", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["generated"] is None  # data reused
    assert all(v["mode"] == "incremental" and v["written"] == 0 for v in again["sync"]["views"])


def test_the_printed_next_steps_work_as_printed(tmp_path):
    """As after `make demo`: fwctl run by its path from outside the project, then each printed
    line typed into a fresh shell that has neither fwctl nor dbt on its PATH."""
    import os
    import subprocess
    import sys

    project = copy_demo_project(tmp_path / "project", expectations=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FW_", "DBT_", "VIRTUAL_ENV"))}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir)
    fwctl = str(Path(sys.executable).parent / "fwctl")
    done = subprocess.run([fwctl, "demo", "--rows", "20000", "--project-dir", "project"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout + done.stderr
    steps = printed.split("Next, in your shell:", 1)[1].strip().splitlines()
    script = "\n".join(line.split("  #")[0].strip() for line in steps)
    assert script.startswith("source ") and "cd project" in script
    ran = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert ran.returncode == 0, script + "\n" + ran.stdout[-3000:] + ran.stderr[-3000:]
    assert '"statuses":["PRESENT"' in ran.stdout  # the curl line got features
    assert "served_training_set" in ran.stdout and "Completed successfully" in ran.stdout
    assert list((project / "data" / "feature_logs").glob("*.parquet"))  # the server logged what it served
