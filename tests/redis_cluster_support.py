"""A throwaway 3-node Redis Cluster (no replicas) from Debian's ``redis-server`` and ``redis-cli``,
for the tests' session fixture and ``bench/online_cluster.py``. Nodes bind 127.0.0.1 on free ports."""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

NODES = 3
START_SECONDS = 30


class ClusterUnavailable(RuntimeError):
    """The cluster could not be started here (programs missing, a node or `--cluster create` failed)."""


def _free_port_pair() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 >= 65536:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise ClusterUnavailable("no free port pair (port, port + 10000) for a Redis Cluster node")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def redis_cluster(directory: Path) -> Iterator[str]:
    """Start the nodes in ``directory``, join them, yield ``redis+cluster://127.0.0.1:<port>``; stop them after."""
    missing = [p for p in ("redis-server", "redis-cli") if shutil.which(p) is None]
    if missing:
        raise ClusterUnavailable(f"{' and '.join(missing)} not found")
    procs: list[subprocess.Popen] = []
    try:
        ports = []
        for _ in range(NODES):
            port = _free_port_pair()
            node_dir = directory / str(port)
            node_dir.mkdir(parents=True)
            with open(node_dir / "log", "wb") as log:
                procs.append(subprocess.Popen(
                    ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                     "--cluster-config-file", str(node_dir / "nodes.conf"), "--dir", str(node_dir),
                     "--save", "", "--appendonly", "no", "--daemonize", "no"],
                    stdout=log, stderr=subprocess.STDOUT,
                ))
            ports.append(port)
        deadline = time.monotonic() + START_SECONDS
        for port, proc in zip(ports, procs):
            while not _answers(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise ClusterUnavailable(f"a Redis Cluster node did not start on port {port} (log: {directory / str(port) / 'log'})")
                time.sleep(0.05)
        create = subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=START_SECONDS,
        )
        if create.returncode != 0:
            raise ClusterUnavailable(f"`redis-cli --cluster create` failed: {(create.stdout + create.stderr)[-500:]}")
        # every node must agree on the slot map before clients use it
        for port in ports:
            while "cluster_state:ok" not in subprocess.run(
                ["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True, text=True
            ).stdout:
                if time.monotonic() > deadline:
                    raise ClusterUnavailable(f"the Redis Cluster on ports {ports} did not reach cluster_state:ok")
                time.sleep(0.1)
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
