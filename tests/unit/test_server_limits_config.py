"""The feature server's limits: checked values, the connection cap against the open-files limit."""
from __future__ import annotations

import pytest

from featurewarehouse.errors import ConfigError
from featurewarehouse.serving.limits import FD_RESERVE, ServerLimits, effective_max_connections, uvicorn_settings


@pytest.mark.parametrize("field,value,flag", [
    ("header_timeout", 0, "--header-timeout"),
    ("body_timeout", -1, "--body-timeout"),
    ("max_connections", 0, "--max-connections"),
    ("max_body_bytes", 10, "--max-body-bytes"),
    ("max_header_bytes", 10, "--max-header-bytes"),
])
def test_unworkable_limits_are_refused_naming_the_flag(field, value, flag):
    with pytest.raises(ConfigError, match=flag):
        ServerLimits(**{field: value}).check()


def test_the_connection_cap_leaves_descriptors_free():
    assert effective_max_connections(1000, 256) == 256 - FD_RESERVE
    assert effective_max_connections(100, 20_000) == 100
    assert effective_max_connections(1000, FD_RESERVE) == 1  # never zero


def test_uvicorn_gets_the_limits_it_has_settings_for():
    settings = uvicorn_settings(ServerLimits(keep_alive_timeout=3, graceful_shutdown_timeout=7, max_header_bytes=4096))
    assert (settings["timeout_keep_alive"], settings["timeout_graceful_shutdown"], settings["h11_max_incomplete_event_size"]) == (3, 7, 4096)
    assert settings["http"].__name__ == "GuardedHttpToolsProtocol"


def test_fwctl_serve_refuses_a_bad_limit_before_starting(capsys):
    from featurewarehouse.cli.main import main

    assert main(["serve", "--header-timeout", "0"]) == 2
    assert "--header-timeout must be at least" in capsys.readouterr().err
