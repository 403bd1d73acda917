"""featurewarehouse.dbt.run_dbt: several projects built in one process stay apart."""
from __future__ import annotations

import duckdb

from featurewarehouse.config import load_config
from featurewarehouse.dbt import run_dbt

PROFILES = """featurewarehouse:
  target: dev
  outputs:
    dev: {type: duckdb, path: warehouse.duckdb, schema: main, threads: 1}
"""


def _project(root, model: str):
    root.mkdir()
    (root / "dbt_project.yml").write_text(
        "name: featurewarehouse\nversion: '1.0.0'\nconfig-version: 2\nprofile: featurewarehouse\n"
    )
    (root / "profiles").mkdir()
    (root / "profiles" / "profiles.yml").write_text(PROFILES)
    (root / "models").mkdir()
    (root / "models" / f"{model}.sql").write_text("select 1 as x")
    return load_config(root, target="dev")


def test_two_projects_with_the_same_relative_duckdb_path_build_into_their_own_files(tmp_path, monkeypatch):
    for var in ("FW_TARGET", "FW_PROFILES_DIR", "FW_PROJECT_DIR", "FW_DUCKDB_PATH", "DBT_TARGET_PATH"):
        monkeypatch.delenv(var, raising=False)
    first, second = _project(tmp_path / "a", "model_a"), _project(tmp_path / "b", "model_b")
    run_dbt(first, ["run"], quiet=True)
    run_dbt(second, ["run"], quiet=True)  # the same profile text: dbt-duckdb would reuse a's instance
    for config, model in ((first, "model_a"), (second, "model_b")):
        con = duckdb.connect(str(config.project_dir / "warehouse.duckdb"), read_only=True)
        try:
            tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        finally:
            con.close()
        assert tables == {model}
