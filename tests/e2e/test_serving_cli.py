"""`fwctl serve` end to end: a real uvicorn process answers Feast requests and flushes its log on SIGTERM."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "contract"))

from featurewarehouse.serving.wire import error_message  # noqa: E402
from serving_support import clean_env, filled_store_and_project, start_serve  # noqa: E402


def _post(port: int, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/get-online-features", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {"message": error_message(e.read())}


def test_fwctl_serve_answers_logs_and_flushes_on_sigterm(tmp_path):
    from featurewarehouse.serving.logging import read_log

    store, project = filled_store_and_project(tmp_path)
    env = clean_env()
    proc, port = start_serve(["--project-dir", str(project), "--store", store, "--log-to", str(tmp_path / "logs"),
                              "--max-entities", "3"], env=env)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            assert json.loads(r.read())["status"] == "ok"
        status, body = _post(port, {"features": ["merchant_risk_features:chargeback_rate_90d"], "entities": {"merchant_id": [7, 8]}})
        assert status == 200
        assert body["results"][1]["values"] == [0.25, None]
        assert body["results"][1]["statuses"] == ["PRESENT", "NOT_FOUND"]
        status, body = _post(port, {"features": ["merchant_risk_features:chargeback_rate_90d"], "entities": {"merchant_id": [1, 2, 3, 4]}})
        assert status == 413 and "at most 3" in body["message"]
        # a second server on the same port is refused with a usage error, before it starts
        again = subprocess.run([str(REPO / ".venv" / "bin" / "fwctl"), "serve", "--project-dir", str(project), "--store", store,
                                "--port", str(port)], env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in again.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    # uvicorn shuts down gracefully (lifespan: the log sink flushes), then re-raises the signal
    assert proc.returncode in (0, -signal.SIGTERM), proc.stderr.read()
    rows = read_log(tmp_path / "logs").to_pylist()
    assert [(r["entity_keys"], r["value"], r["status"]) for r in rows] == [
        ('{"merchant_id":7}', "0.25", "PRESENT"),
        ('{"merchant_id":8}', None, "NOT_FOUND"),
    ]
