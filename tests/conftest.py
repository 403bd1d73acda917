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


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory):
    """A ``redis+cluster://`` URL of a 3-node Redis Cluster (no replicas) started for the session
    from Debian's ``redis-server`` on free ports in a temp dir, stopped at the end."""
    from redis_cluster_support import ClusterUnavailable, redis_cluster

    try:
        with redis_cluster(tmp_path_factory.mktemp("redis_cluster")) as url:
            yield url
    except ClusterUnavailable as exc:
        if IN_CI:
            pytest.fail(f"{exc}; CI=true makes the Redis Cluster tests mandatory", pytrace=False)
        pytest.skip(f"{exc}; to run these tests install redis-server and redis-cli (Debian: apt install redis-server)")
