"""The one error boundary: exit codes and error text."""
from __future__ import annotations

import subprocess
import sys

from featurewarehouse.cli.main import main


def test_usage_errors_exit_2(capsys):
    assert main(["nosuch-command"]) == 2
    assert "No such command" in capsys.readouterr().err
    assert main(["features", "list", "--bogus"]) == 2


def test_configuration_errors_exit_2_with_what_where_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FW_PROJECT_DIR", raising=False)
    assert main(["features", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no dbt_project.yml found")
    # one line, however long: the hint's command copies as printed
    assert "\nhint: run fwctl inside your dbt project (`fwctl init` adds Feature Warehouse to it), or pass --project-dir\n" in err


def test_help_is_fast_and_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from featurewarehouse.cli.main import main; sys.exit(main(['--help']))"],
        capture_output=True, text=True, check=True,
    ).stdout
    for command in ("init", "demo", "registry", "features", "lint", "lineage", "validate", "expectations",
                    "sync-online", "get-online", "serve", "skew", "historical"):
        assert command in out
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, featurewarehouse.cli.main as m; "
         "print(sorted(k for k in ('dbt', 'great_expectations', 'redis', 'duckdb', 'fastapi') if k in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert heavy == "[]"
