"""Passwords are hidden by parsing URLs (errors.redact_url / redact), in linear time."""
from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from featurewarehouse import errors
from featurewarehouse.errors import ConfigError, FwError, redact, redact_url
from featurewarehouse.refs import did_you_mean


@pytest.fixture(autouse=True)
def _forget_secrets(monkeypatch):
    # redact() remembers the secrets of every URL it saw: keep this file's out of other tests
    monkeypatch.setattr(errors, "_KNOWN_SECRETS", {})

# raw: as users paste them (unencoded); each must vanish whole, in every form it can be printed in
PASSWORDS = ["spe@cial:pwQ", "a:b/c?d#e", "100%real", "pä$$wörd", "x@y@z", "p/:@%40q"]


@pytest.mark.parametrize("scheme", ["redis", "rediss", "postgresql"])
@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("encoded", [False, True], ids=["raw", "percent-encoded"])
def test_url_password_is_hidden_whole(scheme, password, encoded):
    secret = quote(password, safe="") if encoded else password
    url = f"{scheme}://fw_user:{secret}@db.internal:6379/0"
    shown = redact_url(url)
    assert shown == f"{scheme}://fw_user:***@db.internal:6379/0"
    text = redact(f"cannot reach {url}: connection refused")
    assert text == f"cannot reach {scheme}://fw_user:***@db.internal:6379/0: connection refused"
    # a library quoting the password (or a piece of it) outside the URL: hidden once the URL was seen
    for form in {password, quote(password, safe=""), secret, password.split("/")[0]}:
        if len(form) >= 4:
            assert form not in redact(f"Port could not be cast to integer value as {form!r}")


def test_the_reported_leak_is_fixed():
    # issue 20: the old pattern showed the tail of a password holding '@' and ':'
    err = FwError("cannot reach redis://:spe@cial:pwQ@127.0.0.1:6379/0")
    assert str(err) == "cannot reach redis://:***@127.0.0.1:6379/0"


def test_urls_without_password_and_secret_query_parameters():
    assert redact_url("redis://127.0.0.1:6379/0?prefix=fw") == "redis://127.0.0.1:6379/0?prefix=fw"
    assert redact_url("sqlite:///tmp/online.db") == "sqlite:///tmp/online.db"
    assert redact_url("postgresql://me@db/x?password=hunter2&sslmode=require") == "postgresql://me@db/x?password=***&sslmode=require"
    assert "hunter2" not in redact("connecting with postgresql://me@db/x?password=hunter2 failed")
    assert redact("no url here: feature 'x'") == "no url here: feature 'x'"


def test_redaction_never_raises_and_leaves_placeholders_alone():
    hint = "use redis://[:password@]host:6379/0 or rediss:// for TLS"
    assert redact(hint) == hint
    assert redact("fix the user/password in the URL") == "fix the user/password in the URL"
    for text in ("redis://[::1", "x://]@[", "://@", "a://b@c@", "redis://:@h", "redis://u:pw@[::1]:6379/0"):
        redact(text)


def test_errors_redact_message_where_and_hint():
    err = ConfigError("bad redis://u:pw1234@h/0", where="--store rediss://:tok5678@h/0", hint="see redis://:hint999@h")
    for secret in ("pw1234", "tok5678", "hint999"):
        assert secret not in str(err)


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_redaction_and_suggestions_are_linear_in_a_long_name(size):
    # issue 20: the old redaction regex took 159 s on a 100k-character name in a message
    name = "x" * size
    start = time.perf_counter()
    FwError(f"unknown feature view {name!r} in redis://h:6379/0")
    redact(f"{name}://{name}@{name} " * 2)
    assert did_you_mean(name, ["x" * 10, name, "x" * (size // 2)]) == ""
    assert did_you_mean("txn_cnt_7d", [name, "txn_count_7d"]) == " did you mean 'txn_count_7d'?"
    assert time.perf_counter() - start < 1.0
