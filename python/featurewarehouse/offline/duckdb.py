"""DuckDB as a warehouse: the embedded default, a file next to the project, no server.

Where DuckDB differs from the interface's portable defaults (``offline/warehouse.py``), it
is for speed: Arrow spines are scanned in place (zero-copy), Parquet spines are read from
their files with DuckDB's own row numbers, results go to Parquet with ``COPY``, and a
table is replaced with one ``create or replace``.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Iterator, Sequence

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ConfigError, ServiceUnavailable
from featurewarehouse.offline.spine import quote, string_literal
from featurewarehouse.offline.warehouse import DEFAULT_BATCH_ROWS, Target, Warehouse


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
    GX_ENGINE = "featurewarehouse.validation.gx_duckdb:DuckDBGx"
    MONITOR_FLAVOR = "featurewarehouse.monitoring.sql:DuckDBFlavor"
    PIT_CHOOSES_BY_SPINE_SIZE = True

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
        # con.sql(...): a relation streams its batches; an execute() result would copy them first
        yield from self.con.sql(sql).to_arrow_reader(batch_rows)

    def fetch_arrow(self, sql: str):
        return self.con.sql(sql).to_arrow_table()

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

    @classmethod
    def is_built(cls, config: ProjectConfig, target: Target) -> bool:
        return duckdb_path(config, target).is_file()

    @classmethod
    def validation_connection(cls, config: ProjectConfig, target: Target) -> tuple[str, dict[str, Any]]:
        from featurewarehouse.validation.gx_duckdb import duckdb_creator

        path = duckdb_path(config, target)
        if not path.is_file():
            raise ServiceUnavailable(
                f"the DuckDB warehouse {path} does not exist",
                hint="build the models first: `dbt build` (or `fwctl demo`)",
            )
        return f"duckdb:///{path}", {"creator": duckdb_creator(str(path))}

    def stage_arrow(self, name: str, table: Any) -> str:
        self.con.register(name, table)  # zero-copy: DuckDB scans the Arrow buffers in place
        return quote(name)

    def stage_parquet(self, name: str, files: Sequence[str], row_id: str) -> str:
        self.execute(f"create or replace temp view {quote(name)} as {_parquet_scan_sql(files, row_id)}")
        return quote(name)

    def stage_query(self, name: str, source: str, row_id: str) -> str:
        # rowid of a freshly filled table is its insertion order, which DuckDB keeps
        # from the query (preserve_insertion_order).
        data = quote(name + "__data")
        self.execute(f"create or replace temp table {data} as select * from {source} as q")
        self.execute(f"create or replace temp view {quote(name)} as select *, rowid as {quote(row_id)} from {data}")
        return quote(name)

    def write_parquet(self, sql: str, path: str) -> None:
        self.execute(f"copy ({sql}) to {string_literal(path)} (format parquet)")

    def create_table_as(self, relation: str, sql: str, *, n_columns: int = 0) -> None:
        # one statement, atomic; wide results single-threaded (WIDE_WRITE_COLUMNS)
        if n_columns <= WIDE_WRITE_COLUMNS:
            self.execute(f"create or replace table {relation} as {sql}")
            return
        threads = self.con.execute("select current_setting('threads')").fetchone()[0]
        self.execute("set threads = 1")
        try:
            self.execute(f"create or replace table {relation} as {sql}")
        finally:
            self.execute(f"set threads = {int(threads)}")

    @contextlib.contextmanager
    def memory_cap(self, limit: str | None) -> Iterator[None]:
        # The setting is global to the database instance, which dbt may share in-process:
        # the previous limit is restored after.
        if limit is None:
            yield
            return
        old = self.fetch_arrow("select current_setting('memory_limit') as m").column(0)[0].as_py()
        self.execute(f"set memory_limit = {string_literal(limit)}")
        try:
            yield
        finally:
            self.execute(f"set memory_limit = {string_literal(old)}")


    def close(self) -> None:
        self.con.close()




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


# DuckDB's table writer holds a 256 KiB block per column per thread: 1,000
# feature columns at 2 threads ran out of a 1 GB memory_limit, one thread wrote
# the same 17k rows in 3.4 s. Wide results are written single-threaded.
WIDE_WRITE_COLUMNS = 256


def _parquet_scan_sql(files: Sequence[str], row_id: str) -> str:
    """Scan Parquet in place; row id = offset of the file + row number within it."""
    import pyarrow.parquet as pq

    listing = "[" + ", ".join(string_literal(f) for f in files) + "]"
    scan = f"read_parquet({listing}, filename=true, file_row_number=true)"
    if len(files) == 1:
        expr = "file_row_number"
    else:
        offsets, total = [], 0
        for f in files:
            offsets.append(f"when {string_literal(f)} then {total}")
            total += pq.read_metadata(f).num_rows
        expr = f"(case filename {' '.join(offsets)} end) + file_row_number"
    return f"select * exclude (filename, file_row_number), {expr} as {quote(row_id)} from {scan}"
