"""Shared fixtures: the real services, mandatory in CI, skipped with a reason elsewhere."""
from __future__ import annotations

import os
import socket
import uuid

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_HOST = os.environ.get("FW_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("FW_PG_PORT", "5432"))
REDIS_HOST = os.environ.get("FW_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("FW_REDIS_PORT", "6379"))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int, how: str) -> None:
    """Fail in CI, skip (saying how to enable) elsewhere, when a service is down."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true makes {name} tests mandatory", pytrace=False)
    pytest.skip(f"{message}; to run these tests: {how}")


@pytest.fixture(scope="session")
def postgres_uri() -> str:
    """A URI for the local PostgreSQL database ``test``."""
    require_service(
        "PostgreSQL", PG_HOST, PG_PORT,
        "start PostgreSQL on 127.0.0.1:5432 with trust auth and a database `test` (or set FW_PG_HOST/FW_PG_PORT)",
    )
    user = os.environ.get("FW_PG_USER", "postgres")
    db = os.environ.get("FW_PG_DATABASE", "test")
    return f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{db}"


@pytest.fixture
def pg_schema(postgres_uri: str):
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    import adbc_driver_postgresql.dbapi as adbc

    schema = f"fwtest_{uuid.uuid4().hex[:10]}"
    con = adbc.connect(postgres_uri, autocommit=True)
    with con.cursor() as cur:
        cur.execute(f'create schema "{schema}"')
    try:
        yield schema
    finally:
        with con.cursor() as cur:
            cur.execute(f'drop schema if exists "{schema}" cascade')
        con.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis URL on a database index of the tests' own (15 unless FW_REDIS_TEST_DB)."""
    require_service(
        "Redis", REDIS_HOST, REDIS_PORT,
        "start Redis on 127.0.0.1:6379 (e.g. `redis-server --daemonize yes`), or set FW_REDIS_HOST/FW_REDIS_PORT",
    )
    db = os.environ.get("FW_REDIS_TEST_DB", "15")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 < 65536:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _cluster_unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message}; CI=true makes the Redis Cluster tests mandatory", pytrace=False)
    pytest.skip(f"{message}; to run these tests install redis-server and redis-cli (Debian: apt install redis-server)")


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory):
    """A ``redis+cluster://`` URL of a 3-node Redis Cluster (no replicas) started for the session
    from Debian's ``redis-server`` on free ports in a temp dir, stopped at the end."""
    import shutil
    import subprocess
    import time

    missing = [p for p in ("redis-server", "redis-cli") if shutil.which(p) is None]
    if missing:
        _cluster_unavailable(f"{' and '.join(missing)} not found")
    d = tmp_path_factory.mktemp("redis_cluster")
    procs: list[subprocess.Popen] = []
    try:
        ports = []
        for i in range(3):
            port = _free_cluster_port()
            ports.append(port)
            node_dir = d / str(port)
            node_dir.mkdir()
            procs.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", str(node_dir / "nodes.conf"), "--dir", str(node_dir),
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdout=open(node_dir / "log", "wb"), stderr=subprocess.STDOUT,
            ))
        deadline = time.monotonic() + 15
        for port, proc in zip(ports, procs):
            while not _reachable("127.0.0.1", port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    _cluster_unavailable(f"a Redis Cluster node did not start on port {port} (log: {d / str(port) / 'log'})")
                time.sleep(0.05)
        create = subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60,
        )
        if create.returncode != 0:
            _cluster_unavailable(f"`redis-cli --cluster create` failed: {create.stdout[-500:]} {create.stderr[-500:]}")
        # the nodes agree on the slot map a moment after `create` returns
        while True:
            info = subprocess.run(["redis-cli", "-p", str(ports[0]), "cluster", "info"], capture_output=True, text=True)
            if "cluster_state:ok" in info.stdout:
                break
            if time.monotonic() > deadline + 30:
                _cluster_unavailable(f"the Redis Cluster on ports {ports} did not reach cluster_state:ok")
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
