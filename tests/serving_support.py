"""Start `fwctl serve` (or any server) for a test: a free loopback port, a clean env, wait until it answers."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[1]
FWCTL = str(REPO / ".venv" / "bin" / "fwctl")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    """This process's environment without FW_* settings, so a test's server sees only its own flags."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FW_")}


def filled_store_and_project(tmp: Path) -> tuple[str, Path]:
    """(SQLite store URL, project dir) under ``tmp``: the serving tests' fixture data in the store
    (tests/contract/test_serving_http.py's ``fill``), and a project of its own with no built registry
    (the repository's may hold one after `make demo`)."""
    from featurewarehouse.online.base import open_store
    from test_serving_http import fill  # tests/contract is on the path of every test that serves

    store = f"sqlite:///{tmp / 'online.db'}"
    fill(open_store(store))
    project = tmp / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text((REPO / "dbt_project.yml").read_text())
    return store, project


def health_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def wait_until_up(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ``ready`` until it is true; fail the test with the server's output if it exits or times out."""
    deadline = time.time() + timeout
    while not ready():
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"server did not start: {proc.communicate(timeout=5)}")
        time.sleep(0.1)


def start_serve(args: list[str], port: int | None = None, timeout: float = 60, **popen) -> tuple[subprocess.Popen, int]:
    """``fwctl serve <args> --port <port>`` started and answering /health: (process, port).

    With ``--workers N`` it also waits a second so every worker listens (the first answer may come from any).
    """
    port = port or free_port()
    popen.setdefault("env", clean_env())
    proc = subprocess.Popen([FWCTL, "serve", *args, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    wait_until_up(proc, lambda: health_answers(port), timeout)
    if "--workers" in args:
        time.sleep(1.0)
    return proc, port
