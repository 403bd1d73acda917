"""`rediss://` (TLS) and auth through the URL, against a real TLS Redis server started for this module.

It needs the `redis-server` and `openssl` programs (Debian: redis-server, openssl): mandatory in CI,
skipped with a reason elsewhere.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pyarrow as pa
import pytest

from conftest import IN_CI
from online_support import h, make_view
from serving_support import free_port
from featurewarehouse.errors import ServiceUnavailable
from featurewarehouse.online.base import ViewLayout, ViewState, open_store
from featurewarehouse.online.keys import NO_CREATED, micros
from featurewarehouse.serving.client import OnlineClient

PASSWORD = "tls-test-secret"
VIEW = make_view("spend")


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    """(host:port, CA file) of a TLS-only Redis with a password, stopped after the module."""
    missing = [p for p in ("redis-server", "openssl") if shutil.which(p) is None]
    if missing:
        message = f"{' and '.join(missing)} not found"
        if IN_CI:
            pytest.fail(f"{message}; CI=true makes the TLS Redis tests mandatory", pytrace=False)
        pytest.skip(f"{message}; to run these tests install them (Debian: apt install redis-server openssl)")
    d = tmp_path_factory.mktemp("tls_redis")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(d / "cert.pem"), "--tls-key-file", str(d / "key.pem"),
         "--tls-ca-cert-file", str(d / "cert.pem"), "--tls-auth-clients", "no",
         "--requirepass", PASSWORD, "--save", "", "--appendonly", "no", "--dir", str(d)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the TLS redis-server did not start on port {port}", pytrace=False)
                time.sleep(0.05)
        yield f"127.0.0.1:{port}", str(d / "cert.pem")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _write(url: str, rows: list[dict]) -> None:
    store = open_store(url)
    try:
        layout = ViewLayout.from_view(VIEW)
        store.begin_view(layout, full_refresh=True)
        store.write_batch(layout, pa.RecordBatch.from_pydict({
            "customer_id": pa.array([r["customer_id"] for r in rows], pa.int64()),
            "__ts": pa.array([micros(r["ts"]) for r in rows], pa.int64()),
            "__cts": pa.array([NO_CREATED] * len(rows), pa.int64()),
            "cnt": pa.array([r["cnt"] for r in rows], pa.int64()),
            "amt": pa.array([None] * len(rows), pa.float64()),
            "cat": pa.array(["a"] * len(rows), pa.string()),
        }))
        store.commit_view(ViewState(layout, "v1", None, "2026-01-01T00:00:00"))
    finally:
        store.close()


def test_rediss_url_with_password_and_ca_syncs_and_serves(tls_redis):
    address, ca = tls_redis
    url = f"rediss://:{PASSWORD}@{address}/0?ssl_ca_certs={ca}&prefix=fwtls"
    _write(url, [{"customer_id": 1, "ts": h(1), "cnt": 7}, {"customer_id": 2, "ts": h(2), "cnt": 9}])
    client = OnlineClient(open_store(url), clock=lambda: h(3))
    try:
        got = client.get_online_features(["spend:cnt", "spend:cat"], {"customer_id": [2, 1, 3]})
        assert got.to_dict() == {"customer_id": [2, 1, 3], "cnt": [9, 7, None], "cat": ["a", "a", None]}
        assert got.statuses[1] == ("PRESENT", "PRESENT", "NOT_FOUND")
        assert PASSWORD not in repr(client.store)
    finally:
        client.store.drop_all()
        client.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("rediss://:wrong-{pw}@{address}/0?ssl_ca_certs={ca}", "refused the credentials in rediss://:***@"),
        # the system CAs do not trust the test certificate
        ("rediss://:{pw}@{address}/0", "cannot reach the Redis online store at rediss://:***@"),
        ("redis://:{pw}@{address}/0?socket_timeout=2", "cannot reach the Redis online store at redis://:***@"),
    ],
    ids=["wrong password", "untrusted certificate", "plain redis:// on the TLS port"],
)
def test_tls_faults_are_clear_and_redacted(tls_redis, url, message):
    address, ca = tls_redis
    with pytest.raises(ServiceUnavailable) as err:
        open_store(url.format(pw=PASSWORD, address=address, ca=ca)).epoch()
    assert message in str(err.value)
    assert PASSWORD not in str(err.value)
