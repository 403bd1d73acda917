"""Great Expectations on DuckDB: a DBAPI connection GX can use, and its engine fitted.

DuckDB needs one fix (the "known trap"). duckdb-engine's DBAPI cursor is not a
cursor: ``ConnectionWrapper.cursor()`` returns a wrapper around the connection
itself, so a result set lives on the connection. GX's
``SqlAlchemyExecutionEngine.execute_query`` runs each metric query inside
``with engine.connect() as connection:`` and calls ``.fetchall()`` after the
block has closed the connection; closing it ends SQLAlchemy's implicit
transaction with a ROLLBACK on the same DuckDB connection, which replaces the
pending result with the ROLLBACK's empty one. ``fetchall()`` then returns
``[]`` and ``resolve_metric_bundle`` fails with ``IndexError`` on ``res[0]``,
so every expectation "fails" without counts (duckdb_engine issue #1087, GX
issue #11579). A StaticPool or turning off pool reset does not help: the
ROLLBACK comes from the Connection's transaction, not from the pool.

The fix here gives each DBAPI cursor its own result set, as PEP 249 expects:
our connection wrapper's ``cursor()`` returns a wrapper around
``duckdb_connection.cursor()`` (DuckDB's own cursor, a child connection on the
same database with its own result), and closing that cursor closes the child.
The ROLLBACK then runs on the parent and the metric's rows survive until GX
fetches them.

Two smaller DuckDB gaps are closed on the execution engine GX builds (only
ours, never globally): GX knows no DuckDB dialect module, so regex
expectations raise "Regex is not supported for dialect duckdb" and type
names resolve against bare SQLAlchemy; and duckdb-engine 0.17's column
reflection runs PostgreSQL catalog queries DuckDB cannot answer under
SQLAlchemy 2.1 (``pg_collation``), so column types come back empty. We give
the engine a dialect module (duckdb-engine's dialect, a PostgreSQL dialect,
whose ``~`` operator DuckDB reads as a *full* match, so the runner wraps each
pattern as ``(?s).*(?:pattern).*`` to keep PostgreSQL's search semantics) and
reflect columns from DuckDB's ``information_schema``. See
docs/decisions/0005-gx-on-duckdb.md.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from featurewarehouse.errors import ServiceUnavailable
from featurewarehouse.validation.gx_engines import GxEngine

DEFAULT_DUCKDB_MEMORY = "256MB"


def duckdb_config() -> dict[str, str]:
    """Bound DuckDB's memory during validation so it does not grow with table size.

    The key-uniqueness aggregate is the one check whose state grows with the
    rows; past the limit DuckDB spills it to a temporary directory (measured:
    10M-row views validate as fast at 300MB as unbounded, bench/validate.py).
    Override with FW_VALIDATE_MEMORY_LIMIT (e.g. 2GB).
    """
    import tempfile

    spill = Path(tempfile.gettempdir()) / "fw_validate_spill"
    return {
        "memory_limit": os.environ.get("FW_VALIDATE_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY,
        "temp_directory": str(spill),
    }


def duckdb_creator(path: str) -> Callable[[], Any]:
    """A DBAPI connection factory whose cursors each hold their own result set.

    Its ``close_all()`` closes every connection and cursor it opened: GX leaves some open,
    and while one is open this process cannot open the file with another configuration
    (read-write, for the sync that follows validation in `fwctl demo`).
    """
    import duckdb
    import duckdb_engine

    opened: list[Any] = []

    class _OwnResultCursor(duckdb_engine.CursorWrapper):
        def __init__(self, child: Any, wrapper: Any) -> None:
            super().__init__(child, wrapper)
            self._child = child

        def close(self) -> None:  # duckdb-engine's is a no-op; ours owns a child connection
            self._child.close()

    class _CursorPerExecuteConnection(duckdb_engine.ConnectionWrapper):
        def __init__(self, con: Any) -> None:
            super().__init__(con)
            self._duck = con

        def cursor(self) -> Any:
            child = self._duck.cursor()
            opened.append(child)
            return _OwnResultCursor(child, self)

    def create() -> Any:
        try:
            try:
                con = duckdb.connect(path, read_only=True, config=duckdb_config())
            except duckdb.ConnectionException as exc:
                # This process already holds the file open read-write (another connection
                # of the same command); DuckDB shares one database per file and config.
                if "different configuration" not in str(exc):
                    raise
                con = duckdb.connect(path)
        except duckdb.IOException as exc:
            raise ServiceUnavailable(
                f"cannot open the DuckDB warehouse {path}: {exc}",
                hint="build it first with `dbt build`, and close other programs writing to it",
            ) from exc
        opened.append(con)
        return _CursorPerExecuteConnection(con)

    def close_all() -> None:
        for con in reversed(opened):
            con.close()
        opened.clear()

    create.close_all = close_all  # type: ignore[attr-defined]
    return create


def _duckdb_column_type(data_type: str) -> Any:
    """SQLAlchemy type for a DuckDB ``information_schema.columns.data_type``."""
    import sqlalchemy as sa
    from duckdb_engine.datatypes import HugeInteger

    name = data_type.upper().split("(")[0].strip()
    if name == "TIMESTAMP WITH TIME ZONE":
        return sa.TIMESTAMP(timezone=True)
    mapping = {
        "BIGINT": sa.BIGINT, "INTEGER": sa.INTEGER, "SMALLINT": sa.SMALLINT, "TINYINT": sa.SMALLINT,
        "UBIGINT": sa.BIGINT, "UINTEGER": sa.BIGINT, "USMALLINT": sa.INTEGER, "UTINYINT": sa.SMALLINT,
        "HUGEINT": HugeInteger, "DOUBLE": sa.DOUBLE_PRECISION, "FLOAT": sa.REAL, "DECIMAL": sa.NUMERIC,
        "VARCHAR": sa.VARCHAR, "BOOLEAN": sa.BOOLEAN, "DATE": sa.DATE, "TIME": sa.TIME,
        "TIMESTAMP": sa.TIMESTAMP, "TIMESTAMP_NS": sa.TIMESTAMP, "TIMESTAMP_MS": sa.TIMESTAMP,
        "TIMESTAMP_S": sa.TIMESTAMP, "INTERVAL": sa.Interval, "UUID": sa.Uuid, "BLOB": sa.LargeBinary,
    }
    return mapping[name]() if name in mapping else sa.types.NullType()


def _fit_duckdb(execution_engine: Any) -> None:
    """Give GX's engine a DuckDB dialect module and working column reflection (see module doc)."""
    import types

    import sqlalchemy as sa
    import sqlalchemy.dialects.postgresql  # noqa: F401  (registers sa.dialects.postgresql)
    from duckdb_engine.datatypes import HugeInteger

    module = types.ModuleType("featurewarehouse_gx_duckdb_types")
    for name, value in vars(sa).items():
        if isinstance(value, type) and issubclass(value, sa.types.TypeEngine):
            setattr(module, name, value)
    module.HUGEINT = HugeInteger
    # GX picks its regex operator by `issubclass(module.dialect, postgresql.dialect)`;
    # duckdb-engine's dialect derives from psycopg2's, which SQLAlchemy 2.1 no longer
    # names `postgresql.dialect`, so name the PostgreSQL dialect itself.
    module.dialect = sa.dialects.postgresql.dialect
    execution_engine.dialect_module = module

    dialect = execution_engine.engine.dialect

    def get_columns(connection: Any, table_name: str, schema: str | None = None, **_: Any) -> list[dict]:
        rows = connection.execute(
            sa.text(
                "select column_name, data_type, is_nullable from information_schema.columns "
                "where table_name = :t and table_schema = :s order by ordinal_position"
            ),
            {"t": table_name, "s": schema or "main"},
        ).fetchall()
        if not rows:
            raise sa.exc.NoSuchTableError(f"{schema}.{table_name}")
        return [
            {"name": n, "type": _duckdb_column_type(t), "nullable": nullable == "YES", "default": None}
            for n, t, nullable in rows
        ]

    dialect.get_columns = get_columns
    dialect.get_pk_constraint = lambda *a, **k: {"constrained_columns": [], "name": None}


def duckdb_regex(pattern: str) -> str:
    """A pattern DuckDB's full-match ``~`` reads as PostgreSQL's search ``~`` does.

    >>> duckdb_regex("^c[0-9]")
    '(?s).*(?:^c[0-9]).*'
    """
    return f"(?s).*(?:{pattern}).*"


_REGEX_TYPES = ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex")


class DuckDBGx(GxEngine):
    """GX's SQL engine over duckdb-engine, with the fixes above."""

    def fit(self, execution_engine: Any) -> None:
        _fit_duckdb(execution_engine)

    def adapt(self, expectation: dict[str, Any]) -> dict[str, Any]:
        kwargs = expectation.get("kwargs") or {}
        if expectation.get("type") in _REGEX_TYPES and "regex" in kwargs:
            return {**expectation, "kwargs": {**kwargs, "regex": duckdb_regex(kwargs["regex"])}}
        return expectation
