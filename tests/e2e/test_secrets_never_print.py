"""A password in a store URL never prints (issue 20): every output, log and file is searched for it.

The commands run as users run them (`fwctl`, in a project of their own), with the URL in
--store and in FW_ONLINE_STORE, raw as users paste it and percent-encoded, on the error paths
a password reaches: Redis refusing the credentials, an unreachable Redis, a TLS Redis URL
against a plain server, and PostgreSQL refusing a connection.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parents[2]
FWCTL = str(REPO / ".venv" / "bin" / "fwctl")

# '@' and ':' (the reported leak), '/', '%', unicode; each long enough to be found unambiguously
PASSWORDS = ["Spe@cial:pwQ9", "sl/ash:c0lon@x", "pct%41not%zz", "pässwörd€:Ω@9"]


def forms(password: str) -> set[str]:
    """The password as it could be printed: raw, percent-encoded, and the pieces around its delimiters."""
    out = {password, quote(password, safe=""), quote(password)}
    for sep in "@:/":
        out.update(p for p in password.split(sep) if len(p) >= 4)
    return out


def leaks(text: str, password: str) -> list[str]:
    return sorted(f for f in forms(password) if f in text)


def run(args: list[str], cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FW_")}
    env.update(env_extra or {})
    return subprocess.run([FWCTL, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text((REPO / "dbt_project.yml").read_text())
    return project


def assert_nothing_leaked(project: Path, password: str, *outputs: str) -> None:
    for text in outputs:
        assert not leaks(text, password), (leaks(text, password), text)
    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert not leaks(text, password), (path, leaks(text, password))


@pytest.mark.parametrize("password", PASSWORDS)
def test_redis_error_paths_never_print_the_password(project, redis_url, password):
    host_port = redis_url.split("://", 1)[1].split("/", 1)[0]
    outputs = []
    for secret in (password, quote(password, safe="")):  # as pasted, and percent-encoded
        urls = [
            f"redis://fw:{secret}@{host_port}/12",  # Redis refuses the credentials (no such user)
            f"redis://:{secret}@127.0.0.1:1/0",  # nothing listens there
            f"rediss://:{secret}@{host_port}/12",  # TLS against a plain server
        ]
        results = [run(["get-online", "--store", url, "--feature", "v:f", "--entity", "k=1"], project) for url in urls]
        # the env var, and the server's start-up path
        results.append(run(["serve", "--project-dir", str(project), "--port", "1"], project, {"FW_ONLINE_STORE": urls[0]}))
        for result in results:
            assert result.returncode == 2, (result.args, result.stdout, result.stderr)
            outputs += [result.stdout, result.stderr]
    assert any("***@" in text for text in outputs)  # the URLs are named, with the password hidden
    assert_nothing_leaked(project, password, *outputs)


@pytest.mark.parametrize("password", PASSWORDS)
def test_postgres_connection_error_never_prints_the_password(password):
    from featurewarehouse.errors import FwError
    from featurewarehouse.offline.warehouse import PostgresWarehouse, postgres_uri

    uri = postgres_uri({"user": "fw", "password": password, "host": "127.0.0.1", "port": 1, "dbname": "test"})
    with pytest.raises(FwError) as info:
        PostgresWarehouse(uri)
    assert "postgresql://fw:***@127.0.0.1:1/test" in str(info.value)
    assert not leaks(str(info.value), password), str(info.value)
