"""A DuckDB warehouse file another process holds: the error says so, with its pid and command."""
from __future__ import annotations

import subprocess
import sys

import pytest

from featurewarehouse.errors import ServiceUnavailable
from featurewarehouse.offline.warehouse import DuckDBWarehouse

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("HELD", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def test_a_file_held_by_another_process_names_it_and_what_to_wait_for(tmp_path):
    path = str(tmp_path / "wh.duckdb")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, path, "--as-dbt-build"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "HELD"
        for read_only in (False, True):
            with pytest.raises(ServiceUnavailable) as err:
                DuckDBWarehouse(path, read_only=read_only)
            text = str(err.value)
            assert f"the DuckDB warehouse {path} is held by another process (pid {holder.pid}: " in text
            assert "--as-dbt-build" in text  # its command line: what to wait for
            assert "hint: wait for that command to finish" in text and f"kill {holder.pid}" in text
    finally:
        holder.stdin.close()
        holder.wait(30)
    DuckDBWarehouse(path, read_only=True).close()  # free again once it exits
