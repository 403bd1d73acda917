"""Warehouse connections that move Arrow batches, never Python rows.

One small interface over the engines the project runs on: DuckDB (embedded,
the default) and PostgreSQL (through ADBC, which streams Arrow over COPY).
The connection settings come from the same ``profiles.yml`` target
dbt uses, so fwctl and dbt always talk to the same warehouse.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from featurewarehouse.config import ProjectConfig, read_profile, render_env
from featurewarehouse.errors import ConfigError, ServiceUnavailable, redact_url

DEFAULT_BATCH_ROWS = 65_536
@dataclass(frozen=True)
class Target:
    """A resolved dbt profile target."""

    name: str
    type: str  # "duckdb" | "postgres"
    settings: dict[str, Any]

    @property
    def schema(self) -> str:
        return str(self.settings.get("schema") or ("main" if self.type == "duckdb" else "public"))


def read_target(config: ProjectConfig) -> Target:
    """The dbt target ``config.target`` of the project's profile (found as dbt finds it)."""
    profile = read_profile(config.profiles_dir, config.profile_name)
    outputs = profile.get("outputs") or {}
    if config.target not in outputs:
        from featurewarehouse.refs import did_you_mean

        raise ConfigError(
            f"profile {config.profile_name!r} has no target {config.target!r}." + did_you_mean(config.target, outputs),
            where=str(config.profiles_dir / "profiles.yml"),
            hint=f"choose one of: {', '.join(outputs)} (--target, or the profile's target:)",
        )
    settings = {k: render_env(v) for k, v in outputs[config.target].items()}
    return Target(config.target, str(settings["type"]), settings)


class Warehouse:
    """Base class. Subclasses declare capabilities as class attributes."""

    dialect: str = ""
    SUPPORTS_ASOF_JOIN: bool = False
    # dbt sources can be Parquet files in place (dbt-duckdb external sources); the other
    # engines read the demo's raw data from tables that `fwctl demo load` fills.
    READS_PARQUET_SOURCES: bool = False

    @classmethod
    def from_target(cls, config: ProjectConfig, target: Target, *, read_only: bool = False) -> "Warehouse":
        """Open the warehouse a dbt profile target describes."""
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def stream(self, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator["pa.RecordBatch"]:  # noqa: F821
        """Yield the query's result as Arrow record batches, bounded in memory."""
        raise NotImplementedError

    def fetch_arrow(self, sql: str) -> "pa.Table":  # noqa: F821
        """A small result as one Arrow table (metadata queries, samples); an empty
        result keeps its schema."""
        raise NotImplementedError

    def upload_arrow(
        self, table_name: str, data: "pa.Table", *, temporary: bool = True, schema: str | None = None  # noqa: F821
    ) -> str:
        """Put an Arrow table (or a RecordBatchReader, streamed) into the warehouse.

        Returns the relation name to select from; ``schema`` (an existing schema)
        places a permanent table there.
        """
        raise NotImplementedError

    def relation_exists(self, relation: str) -> bool:
        raise NotImplementedError

    def create_table_as(self, relation: str, sql: str) -> None:
        """Create or replace ``relation`` from a query, all or nothing."""
        self.execute("begin")
        try:
            self.execute(f"drop table if exists {relation}")
            self.execute(f"create table {relation} as {sql}")
            self.execute("commit")
        except Exception:
            self.execute("rollback")
            raise

    def replace_table(self, schema: str, table: str, loaded: str) -> None:
        """Put table ``loaded`` (in ``schema``) in the place of ``table``, in one transaction."""
        for statement in (
            "begin",
            f'drop table if exists "{schema}"."{table}"',
            f'alter table "{schema}"."{loaded}" rename to "{table}"',
            "commit",
        ):
            self.execute(statement)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _held_by_another_process(path: str, exc: Exception) -> ServiceUnavailable | None:
    """The error for a DuckDB file another process has open: DuckDB lets one process write a
    file (or several only read it). Its message names the holder's program and pid; the
    holder's command line, read from /proc where there is one, says which command to wait for."""
    m = re.search(r"Conflicting lock is held in (?P<prog>.*?) \(PID (?P<pid>\d+)\)", str(exc))
    if not m:
        return None
    pid = m["pid"]
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = ""
    return ServiceUnavailable(
        f"the DuckDB warehouse {path} is held by another process (pid {pid}: {command or m['prog']}); "
        "DuckDB lets one process at a time open a file for writing",
        hint=f"wait for that command to finish (e.g. `dbt build`, `fwctl sync-online`, a notebook or a duckdb shell "
        f"on this file), or stop it (`kill {pid}`), then rerun",
    )


class DuckDBWarehouse(Warehouse):
    dialect = "duckdb"
    SUPPORTS_ASOF_JOIN = True
    READS_PARQUET_SOURCES = True

    @classmethod
    def from_target(cls, config: ProjectConfig, target: Target, *, read_only: bool = False) -> "DuckDBWarehouse":
        path = duckdb_path(config, target)
        settings = {**PLANNER_SETTINGS, **(target.settings.get("settings") or {})}
        return cls(str(path), read_only=read_only, settings=settings)

    def __init__(self, path: str, *, read_only: bool = False, settings: dict[str, Any] | None = None):
        import duckdb

        self.path = path
        try:
            self.con = duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            raise _held_by_another_process(path, exc) or ServiceUnavailable(
                f"cannot open the DuckDB warehouse {path}: {exc}",
                hint="build it first with `dbt build` (or `fwctl demo`), and close other programs writing to it",
            ) from exc
        # The profile's dbt-duckdb `settings:` (memory_limit, threads, temp_directory, ...),
        # applied with SET so that fwctl runs under the same limits as dbt.
        for key, value in (settings or {}).items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(key)):
                raise ConfigError(f"bad DuckDB setting name {key!r}", where="profiles.yml: settings")
            literal = str(value).replace("'", "''")
            self.con.execute(f"set {key} = '{literal}'")

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def stream(self, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS):
        # The connection itself, not a cursor: a DuckDB cursor is another
        # connection and would not see this connection's temp tables (uploads).
        yield from self.con.execute(sql).fetch_record_batch(batch_rows)

    def fetch_arrow(self, sql: str):
        return self.con.execute(sql).fetch_arrow_table()

    def upload_arrow(self, table_name: str, data, *, temporary: bool = True, schema: str | None = None) -> str:
        self.con.register(f"__fw_arrow_{table_name}", data)
        kind = "temp table" if temporary else "table"
        relation = f'"{schema}"."{table_name}"' if schema else f'"{table_name}"'
        self.con.execute(f'create or replace {kind} {relation} as select * from "__fw_arrow_{table_name}"')
        self.con.unregister(f"__fw_arrow_{table_name}")
        return relation

    def relation_exists(self, relation: str) -> bool:
        import duckdb

        try:
            self.con.execute(f"select 1 from {relation} limit 0")
            return True
        except duckdb.CatalogException:
            return False

    def close(self) -> None:
        self.con.close()


class PostgresWarehouse(Warehouse):
    dialect = "postgres"

    @classmethod
    def from_target(cls, config: ProjectConfig, target: Target, *, read_only: bool = False) -> "PostgresWarehouse":
        return cls(postgres_uri(target.settings), schema=target.schema)

    def __init__(self, uri: str, schema: str | None = None):
        """``schema``: the target's, searched first, so unqualified names (a spine
        query such as ``select * from labels``) mean what they mean to dbt."""
        try:
            import adbc_driver_postgresql.dbapi as adbc
        except ImportError as exc:
            raise ConfigError(
                "the postgres target needs the postgres extra",
                hint='pip install "featurewarehouse[postgres]"',
            ) from exc
        self.uri = uri
        try:
            self.con = adbc.connect(uri, autocommit=True)
        except Exception as exc:
            raise ServiceUnavailable(
                f"cannot connect to PostgreSQL at {redact_url(uri)}: {exc}",
                hint="start PostgreSQL or fix FW_PG_HOST/FW_PG_PORT/FW_PG_USER/FW_PG_DATABASE",
            ) from exc
        if schema:
            from featurewarehouse.offline.spine import quote

            self.execute(f"set search_path to {quote(schema)}, public")

    def execute(self, sql: str) -> None:
        with self.con.cursor() as cur:
            cur.execute(sql)

    def stream(self, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS):
        cur = self.con.cursor()
        try:
            cur.execute(sql)
            yield from cur.fetch_record_batch()
        finally:
            cur.close()

    def fetch_arrow(self, sql: str):
        cur = self.con.cursor()
        try:
            cur.execute(sql)
            return cur.fetch_arrow_table()
        finally:
            cur.close()

    def upload_arrow(self, table_name: str, data, *, temporary: bool = True, schema: str | None = None) -> str:
        relation = f'"{schema}"."{table_name}"' if schema else f'"{table_name}"'
        with self.con.cursor() as cur:
            cur.execute(f"drop table if exists {relation}")
            cur.adbc_ingest(table_name, data, mode="create", temporary=temporary, db_schema_name=schema)
        return relation

    def relation_exists(self, relation: str) -> bool:
        try:
            self.execute(f"select 1 from {relation} limit 0")
            return True
        except Exception:
            return False

    def close(self) -> None:
        self.con.close()


def postgres_uri(settings: dict[str, Any]) -> str:
    from urllib.parse import quote

    user = quote(str(settings.get("user") or "postgres"))
    password = str(settings.get("password") or "")
    auth = f"{user}:{quote(password)}@" if password else f"{user}@"
    host = settings.get("host") or "127.0.0.1"
    port = settings.get("port") or 5432
    db = settings.get("dbname") or settings.get("database") or "postgres"
    return f"postgresql://{auth}{host}:{port}/{db}"


def duckdb_path(config: ProjectConfig, target: Target) -> Path:
    """The DuckDB file of a duckdb target; a relative path is relative to the project, as for dbt."""
    path = Path(str(target.settings.get("path") or "data/warehouse.duckdb"))
    return path if path.is_absolute() else config.project_dir / path


# Planner settings every fwctl DuckDB connection starts with; the profile's
# `settings:` override them. DuckDB estimates a scan of a registered Arrow table
# (every DataFrame or Arrow spine) at ~1 row whatever its size, and plans an ASOF
# join whose left side is estimated below `asof_loop_join_threshold` (64) rows as
# a nested loop: a 100k-row pandas spine took 208 s instead of 27 s, a 1M-row one
# did not finish in 33 min (issue 15). At 0 the ASOF join is always the
# sort-merge operator, which costs a few ms more on a spine of a few rows.
# The other small-side thresholds (nested_loop_join_threshold, merge_join_threshold)
# stay at DuckDB's defaults on purpose: the PIT bodies' only inequality joins are
# against one-row scalars (the spine's time range), where a nested loop is right;
# at 0 they became piecewise merge joins that sort every view row (2.2 s of 4.4 s
# measured). tests/dbt/test_pit_plan.py fails if a spine kind loses its ASOF joins.
PLANNER_SETTINGS: dict[str, Any] = {"asof_loop_join_threshold": 0}


# dbt adapter type -> "module:Class": a fourth engine is one module plus one entry here.
# Named, not imported, so that an engine's client library loads only when its target is used.
ENGINES = {
    "duckdb": "featurewarehouse.offline.warehouse:DuckDBWarehouse",
    "postgres": "featurewarehouse.offline.warehouse:PostgresWarehouse",
    "spark": "featurewarehouse.offline.spark:SparkWarehouse",
}


def engine_class(target: Target) -> type[Warehouse]:
    """The Warehouse class of a target's adapter type (its capability flags, without connecting)."""
    import importlib

    name = ENGINES.get(target.type)
    if name is None:
        raise ConfigError(
            f"fwctl does not read {target.type!r} warehouses yet",
            where=f"profiles.yml: {target.name}",
            hint=f"dbt models still build there; fwctl's Python layer supports {', '.join(ENGINES)}",
        )
    module, cls = name.split(":")
    return getattr(importlib.import_module(module), cls)


def connect(config: ProjectConfig, *, read_only: bool = False) -> Warehouse:
    """Open the warehouse of the configured dbt target."""
    target = read_target(config)
    return engine_class(target).from_target(config, target, read_only=read_only)


@contextmanager
def warehouse(config: ProjectConfig, *, read_only: bool = False) -> Iterator[Warehouse]:
    wh = connect(config, read_only=read_only)
    try:
        yield wh
    finally:
        wh.close()
