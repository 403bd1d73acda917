"""`fwctl serve --workers 2` while `fwctl sync-online --full-refresh` rebuilds the served view (issue 16).

Every response, from either worker, sees the view's old generation or its new one: never a mix
of old and new values in one response, never NOT_FOUND for a key present before and after.
"""
from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "contract"))  # the online tests' warehouse and registry helpers
sys.path.insert(0, str(Path(__file__).parent))

from online_support import Warehouse, h, make_view, registry  # noqa: E402
from serving_support import clean_env, start_serve  # noqa: E402

N_KEYS = 30_000  # enough rows that the rebuild takes a while and requests land during it
NEW = 1_000_000  # the refresh adds this to every value: old and new can never be confused
MAX_REQUESTS = 4000
MAX_SECONDS = 120.0


def _project(tmp_path: Path, view, db: Path) -> Path:
    project = tmp_path / "project"
    (project / "target").mkdir(parents=True)
    (project / "dbt_project.yml").write_text('name: fwtest\nversion: "0.1.0"\nconfig-version: 2\nprofile: featurewarehouse\n')
    (project / "profiles.yml").write_text(
        f"featurewarehouse:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {db}\n")
    (project / "target" / "fw_registry.json").write_text(json.dumps(registry(view).to_dict(), default=str))
    return project


def _read(port: int, ids: list[int], request_id: str) -> dict:
    body = {"features": ["spend:cnt"], "entities": {"customer_id": ids}}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/get-online-features", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "x-request-id": request_id})
    with urllib.request.urlopen(req, timeout=10) as r:  # a new connection each time: the kernel spreads them over the workers
        return json.loads(r.read())


def _env() -> dict[str, str]:
    return {k: v for k, v in clean_env().items() if k != "DBT_PROJECT_DIR"}


def _fwctl(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([str(REPO / ".venv" / "bin" / "fwctl"), *args], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_every_response_sees_all_old_or_all_new_values_during_a_full_refresh(tmp_path):
    view = make_view("spend")
    wh = Warehouse(tmp_path / "wh.duckdb")
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in range(N_KEYS)])
    wh.close()
    project = _project(tmp_path, view, Path(wh.path))
    store = f"sqlite:///{tmp_path / 'online.db'}"
    common = ["--project-dir", str(project), "--profiles-dir", str(project), "--store", store]
    first = _fwctl("sync-online", "--skip-validation", *common)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err

    wh = Warehouse(tmp_path / "wh.duckdb")  # the new generation: every value moves, every key stays
    wh.wh.execute(f"update \"spend\" set cnt = cnt + {NEW}, loaded_at = timestamp '2026-01-02'")
    wh.close()

    logs = tmp_path / "logs"
    server, port = start_serve([*common, "--workers", "2", "--log-to", str(logs)], env=_env())
    try:

        rng = random.Random(7)
        ids = sorted(rng.sample(range(N_KEYS), 200))
        old, new = ids, [i + NEW for i in ids]
        seen = {"old": 0, "new": 0}
        during = 0
        sent = []
        refresh = _fwctl("sync-online", "--full-refresh", "--skip-validation", *common)
        start = time.time()
        try:
            # bounded in count and time; a few requests after the sync ends show the new generation is served
            after = 0
            while len(sent) < MAX_REQUESTS and time.time() - start < MAX_SECONDS and after < 50:
                running = refresh.poll() is None
                rid = f"req-{len(sent)}"
                sent.append(rid)
                got = _read(port, ids, rid)
                values, statuses = got["results"][1]["values"], got["results"][1]["statuses"]
                assert "NOT_FOUND" not in statuses, (rid, statuses)
                assert values in (old, new), f"{rid}: a mix of generations: {sum(v >= NEW for v in values)} new of {len(values)}"
                seen["old" if values == old else "new"] += 1
                during += running
                after += not running
        finally:
            if refresh.poll() is None:
                refresh.kill()
            out, err = refresh.communicate(timeout=60)
        assert refresh.returncode == 0, err
        assert during >= 20, f"only {during} requests while the refresh ran: the check did not overlap the sync"
        assert after == 50 and values == new, "the new generation is not served after the refresh"
        assert seen["old"] > 0, seen
    finally:
        server.send_signal(signal.SIGTERM)  # flushes both workers' feature logs
        try:
            server.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail("the server ignored SIGTERM for 90 s")
    files = sorted(logs.glob("*.parquet"))
    logged = {rid for f in files for rid in pq.read_table(f, columns=["request_id"]).column(0).to_pylist()}
    assert logged == set(sent)
    # files are named fw-log-<time>-<pid>-<seq>: both workers answered
    assert len({f.name.split("-")[-2] for f in files}) == 2, [f.name for f in files]
