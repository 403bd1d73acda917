"""Start a benchmark's HTTP server on a free loopback port and wait until /health answers."""
from __future__ import annotations

import http.client
import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(proc: subprocess.Popen, port: int, timeout: float = 60) -> None:
    """Return once ``GET /health`` answers 200; raise (and stop ``proc``) if it exits or the time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server on port {port} did not start (exit code {proc.poll()})")
