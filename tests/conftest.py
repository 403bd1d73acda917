"""Shared fixtures: the real services, mandatory in CI, skipped with a reason elsewhere."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from serving_support import free_port

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


# ---- Spark: one Spark Connect server for the whole test session ---------------------------
# A JVM takes 20-40 s to start, so every Spark test shares one server started from the
# pyspark package; tests work in schemas of their own. It binds to 127.0.0.1 on a free
# port and stops when the session ends. CI=true: a server that cannot start fails the tests.

SPARK_START_TIMEOUT_S = float(os.environ.get("FW_SPARK_START_TIMEOUT", "180"))
SPARK_HOW = 'pip install -e ".[spark]" (pyspark runs its own local server) and install Java 17 (`apt-get install openjdk-17-jre-headless`)'


def _close_spark_clients() -> None:
    """Close every Spark Connect client of this process (dbt-spark's session's included) while the
    server still runs: pyspark's exit hook otherwise calls the stopped server for each open client
    and retries for minutes, so the test process never exits."""
    import gc
    import sys

    core = sys.modules.get("pyspark.sql.connect.client.core")
    if core is None:
        return
    for obj in gc.get_objects():
        if isinstance(obj, core.SparkConnectClient):
            try:
                obj.close()
            except Exception:
                pass


def _spark_unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message}; CI=true makes the Spark tests mandatory", pytrace=False)
    pytest.skip(f"{message}; to run the Spark tests: {SPARK_HOW}")


@pytest.fixture(scope="session")
def spark_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://127.0.0.1:<port>`` of a Spark Connect server this session started (or FW_SPARK_REMOTE's)."""
    given = os.environ.get("FW_SPARK_REMOTE")
    if given:  # a server someone else runs: use it, never stop it
        yield given
        return
    try:
        import pyspark
    except ImportError:
        _spark_unavailable("pyspark is not installed")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _spark_unavailable("no Java runtime (java not on PATH, JAVA_HOME unset)")
    spark_home = Path(pyspark.__file__).parent
    port = free_port()
    work = tmp_path_factory.mktemp("spark-server")
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOG_DIR": str(work),
    }
    env.pop("SPARK_REMOTE", None)
    command = [
        str(spark_home / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master", "local[2]",
        "--driver-memory", os.environ.get("FW_SPARK_DRIVER_MEMORY", "1g"),
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.ui.enabled=false",
        "--conf", f"spark.sql.warehouse.dir={work / 'warehouse'}",
        "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={work}",
        "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", "spark.sql.session.timeZone=UTC",
    ]
    log = open(work / "server.log", "wb")
    proc = subprocess.Popen(command, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + SPARK_START_TIMEOUT_S
        while not _reachable("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (work / "server.log").read_text(errors="replace")[-2000:]
                why = "exited" if proc.poll() is not None else f"did not listen within {SPARK_START_TIMEOUT_S:.0f} s"
                _spark_unavailable(f"the Spark Connect server {why} (log {work / 'server.log'}):\n{tail}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        _close_spark_clients()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@pytest.fixture(scope="session")
def spark_env(spark_remote: str) -> Iterator[str]:
    """SPARK_REMOTE set for the session: dbt-spark's session method and fwctl both read it."""
    old = os.environ.get("SPARK_REMOTE")
    os.environ["SPARK_REMOTE"] = spark_remote
    try:
        yield spark_remote
    finally:
        if old is None:
            os.environ.pop("SPARK_REMOTE", None)
        else:
            os.environ["SPARK_REMOTE"] = old


@pytest.fixture
def spark_schema() -> str:
    """A fresh schema name for one test (Spark creates it on first use)."""
    return f"fwtest_{uuid.uuid4().hex[:10]}"
