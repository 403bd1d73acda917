"""The sync lock's settings and owner record (no store needed)."""
from __future__ import annotations

import os
import socket

import pytest

from featurewarehouse.errors import ConfigError
from featurewarehouse.online.locks import DEFAULT_LOCK_TTL_SECONDS, LockOwner, ttl_from_env


def test_lock_ttl_comes_from_the_environment_and_bad_values_are_config_errors(monkeypatch):
    monkeypatch.delenv("FW_SYNC_LOCK_TTL", raising=False)
    assert ttl_from_env() == DEFAULT_LOCK_TTL_SECONDS == 60
    monkeypatch.setenv("FW_SYNC_LOCK_TTL", "300")
    assert ttl_from_env() == 300
    for bad in ("0.5", "-1", "soon"):
        monkeypatch.setenv("FW_SYNC_LOCK_TTL", bad)
        with pytest.raises(ConfigError, match=f"bad FW_SYNC_LOCK_TTL '{bad}'.*\nhint: set it to a number of seconds >= 1"):
            ttl_from_env()


def test_an_owner_round_trips_and_describes_itself():
    me = LockOwner.mine()
    assert (me.host, me.pid) == (socket.gethostname(), os.getpid()) and len(me.token) == 32
    assert LockOwner.from_json(me.to_json()) == me
    assert me.describe() == f"`fwctl sync-online` on host {me.host} (pid {me.pid}), started {me.started_at}"
    assert not me.is_gone()  # this process is alive
    assert LockOwner.from_json("garbage").host == "unknown host"  # a foreign value still yields a message
