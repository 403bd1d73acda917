"""`fwctl serve --workers 2`: two processes answer on one port, and SIGTERM flushes both feature logs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "contract"))  # the contract tests' store fixture data
REQUESTS = 60

from serving_support import filled_store_and_project, start_serve  # noqa: E402


def _post(port: int, body: dict, request_id: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/get-online-features", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "x-request-id": request_id})
    with urllib.request.urlopen(req, timeout=10) as r:  # a new connection each time: the kernel spreads them
        return r.status


def test_two_workers_answer_and_sigterm_flushes_every_log(tmp_path):
    store, project = filled_store_and_project(tmp_path)
    logs = tmp_path / "logs"
    proc, port = start_serve(["--project-dir", str(project), "--store", store, "--workers", "2", "--log-to", str(logs)])
    try:
        body = {"features": ["merchant_risk_features:chargeback_rate_90d"], "entities": {"merchant_id": [7]}}
        sent = {f"req-{i}" for i in range(REQUESTS)}
        assert {_post(port, body, rid) for rid in sorted(sent)} == {200}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the server ignored SIGTERM for 90 s")
    assert proc.returncode == 0, err
    files = sorted(logs.glob("*.parquet"))
    assert not list(logs.glob("*.inprogress")), "a worker left an unpublished log file"
    logged = {rid for f in files for rid in pq.read_table(f, columns=["request_id"]).column(0).to_pylist()}
    assert logged == sent
    # files are named fw-log-<time>-<pid>-<seq>: both workers served and wrote their own
    pids = {f.name.split("-")[-2] for f in files}
    assert len(pids) == 2, [f.name for f in files]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rpartition(")")[2].split()[1] == str(pid):
                        out.append(int(entry))
            except OSError:
                continue
    return out


def test_a_dead_worker_stops_the_others_and_the_server_exits_3(tmp_path):
    store, project = filled_store_and_project(tmp_path)
    proc, _ = start_serve(["--project-dir", str(project), "--store", store, "--workers", "2"])
    try:
        deadline = time.time() + 60
        while len(workers := _children(proc.pid)) < 2:
            assert time.time() < deadline and proc.poll() is None, proc.communicate(timeout=5)
            time.sleep(0.1)
        os.kill(workers[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err
    assert f"worker {workers[0]} exited with -9" in err
    assert not [w for w in workers if os.path.exists(f"/proc/{w}")], "a worker outlived the server"
