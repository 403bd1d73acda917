"""Helpers for the PIT macro tests: a tmp copy of the fixture dbt project, dbt in-process,
compiled SQL re-executed against new data (one dbt invocation per backend, not per example)."""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
FIXTURE = TESTS / "dbt" / "project"

if str(TESTS) not in sys.path:  # for `import pit_cases` (shared cases and reference)
    sys.path.insert(0, str(TESTS))


def make_project(dest: Path, fixture: Path = FIXTURE) -> Path:
    """Copy a fixture project with the repository's real macros/ and profiles.yml into ``dest``."""
    project = dest / "project"
    shutil.copytree(fixture, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    shutil.copytree(REPO / "macros", project / "macros")
    shutil.copy(REPO / "profiles" / "profiles.yml", project / "profiles.yml")
    return project


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def target_env(project: Path, target: str, pg_schema: str | None = None) -> dict[str, str]:
    values = {
        "FW_TARGET": target,
        "FW_DUCKDB_PATH": str(project / "wh.duckdb"),
        "DBT_TARGET_PATH": str(project / "target"),
        "FW_PROJECT_DIR": str(project),
    }
    if pg_schema:
        values["FW_PG_SCHEMA"] = pg_schema
    return values


def invoke(project: Path, command: Sequence[str], target: str, pg_schema: str | None = None):
    """Run one dbt command in-process against the tmp project; return dbt's result (never raises on failure)."""
    from dbt.cli.main import dbtRunner

    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import _cwd, dbt_args

    logged: list[str] = []

    def collect(event) -> None:
        if event.info.level in ("error", "warn"):
            logged.append(event.info.msg)

    with env(**target_env(project, target, pg_schema)):
        config = load_config(project, target=target)
        with _cwd(project):
            result = dbtRunner(callbacks=[collect]).invoke(["--quiet", *dbt_args(config, command)])
    result.logged = logged  # dbt logs parse errors of inline queries instead of raising them
    return result


@dataclass
class Built:
    """The fixture project built on one backend: every model's compiled SQL and relation."""

    project: Path
    sql: dict[str, str]
    relation: dict[str, str]


def build(project: Path, target: str, pg_schema: str | None = None) -> Built:
    result = invoke(project, ["build"], target, pg_schema)
    if result.exception is not None or not result.success:
        messages = [f"{r.node.name}: {r.message}" for r in getattr(result.result, "results", []) or []
                    if str(r.status) not in ("success", "pass")]
        raise AssertionError(f"dbt build failed: {result.exception or messages}")
    sql, relation = {}, {}
    for r in result.result.results:
        sql[r.node.name] = r.node.compiled_code
        relation[r.node.name] = r.node.relation_name
    return Built(project, sql, relation)


# ---- data -----------------------------------------------------------------

def literal(value: Any) -> str:
    """A SQL literal both DuckDB and PostgreSQL read the same way."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return f"cast({value!r} as double precision)"
    if isinstance(value, datetime):
        return f"cast('{value.isoformat(sep=' ')}' as timestamp)"
    if isinstance(value, date):
        return f"cast('{value.isoformat()}' as date)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no literal for {value!r}")


def fill_statements(relation: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Replace a table's rows (the columns not given stay NULL)."""
    out = [f"delete from {relation}"]
    if rows:
        values = ",\n".join("(" + ", ".join(literal(r.get(c)) for c in columns) + ")" for r in rows)
        out.append(f"insert into {relation} ({', '.join(columns)}) values\n{values}")
    return out


class Runner:
    """Execute SQL on DuckDB or PostgreSQL and return rows as dicts, column order kept."""

    def __init__(self, target: str, project: Path, postgres_uri: str | None = None):
        self.target = target
        if target == "dev":
            import duckdb

            self.con = duckdb.connect(str(project / "wh.duckdb"))
        else:
            import adbc_driver_postgresql.dbapi as adbc

            self.con = adbc.connect(postgres_uri, autocommit=True)

    def execute(self, statements: Sequence[str]) -> None:
        cur = self.con.cursor()
        try:
            for s in statements:
                cur.execute(s)
        finally:
            cur.close()

    def query(self, sql: str) -> tuple[list[str], list[dict[str, Any]]]:
        cur = self.con.cursor()
        try:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            return names, [dict(zip(names, row)) for row in cur.fetchall()]
        finally:
            cur.close()

    def close(self) -> None:
        self.con.close()
