"""dbt runs in-process (one invocation per command): what one invocation leaves must not reach the next."""
from __future__ import annotations

import duckdb

from featurewarehouse.config import load_config
from featurewarehouse.dbt import run_dbt
from historical_support import ISOLATE_ENV, copy_project


def test_two_projects_with_the_same_relative_duckdb_path_each_build_their_own_file(tmp_path, monkeypatch):
    # dbt-duckdb keeps its DuckDB instance for the next invocation while the profile compares
    # equal, and `path: warehouse.duckdb` is equal text in every project
    for name in ISOLATE_ENV:
        monkeypatch.delenv(name, raising=False)
    projects = [copy_project(tmp_path / name) for name in ("a", "b")]
    for project in projects:
        run_dbt(load_config(project), ["seed", "--select", "spine_labels"], quiet=True)
    for project in projects:
        assert (project / "warehouse.duckdb").is_file(), f"{project.name} has no warehouse of its own"
        con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
        try:
            assert con.execute("select count(*) from main.spine_labels").fetchone()[0] > 0
        finally:
            con.close()
