"""Warehouse connections that move Arrow batches, never Python rows.

One small interface over the engines fwctl reads: DuckDB (embedded, the default,
``offline/duckdb.py``), PostgreSQL (through ADBC, which streams Arrow over COPY; here) and
Spark (Spark Connect, ``offline/spark.py``). Callers never ask which engine they hold:
where engines differ, the difference is a method or a capability flag of
:class:`Warehouse` (its portable default here, an engine's override in its module), so a
fourth engine is one module plus one ``ENGINES`` entry (``tests/unit/test_engine_branches.py``
fails if a caller branches on an engine's name). The connection settings come from the
same ``profiles.yml`` target dbt uses, so fwctl and dbt always talk to the same warehouse.
"""
from __future__ import annotations

import contextlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from featurewarehouse.config import ProjectConfig, read_profile, render_env
from featurewarehouse.errors import ConfigError, ServiceUnavailable, redact_url

DEFAULT_BATCH_ROWS = 65_536
@dataclass(frozen=True)
class Target:
    """A resolved dbt profile target."""

    name: str
    type: str  # the dbt adapter type: a key of ENGINES
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
    """Base class: the portable behaviour. Subclasses declare capabilities as class attributes
    and override a method only where their engine differs."""

    dialect: str = ""  # the dbt adapter type (for messages and sqlglot), never for branching
    SUPPORTS_ASOF_JOIN: bool = False
    # dbt sources can be Parquet files in place (dbt-duckdb external sources); the other
    # engines read the demo's raw data from tables that `fwctl demo load` fills.
    READS_PARQUET_SOURCES: bool = False
    # Appended to a text column in an ORDER BY so text sorts by code point, as the macro's
    # `fw_pit_tie_expr` does (PostgreSQL sorts by the database's locale otherwise).
    TEXT_ORDER_COLLATE: str = ""
    # A global ORDER BY is a sort on one machine (worth asking for when the online store
    # inserts sorted keys faster); False where it is a distributed range shuffle (Spark).
    GLOBAL_SORT_IS_CHEAP: bool = True
    # "module:Class" of how Great Expectations reads this engine (validation/gx_engines.py);
    # the default is GX's SQL engine through the URL `validation_connection` gives.
    GX_ENGINE: str = "featurewarehouse.validation.gx_engines:GxEngine"
    # "module:Class" of how `fwctl monitor`'s profiling SQL is spelled here (a Flavor in
    # monitoring/sql.py); empty: the monitor refuses this engine.
    MONITOR_FLAVOR: str = ""
    # The PIT macro's body here chooses each view's formulation from the spine's size
    # (macros/pit_formulation.sql): retrieval counts a spine given as SQL before the render.
    PIT_CHOOSES_BY_SPINE_SIZE: bool = False

    @classmethod
    def is_built(cls, config: ProjectConfig, target: Target) -> bool:
        """Whether there is a warehouse to read yet (an embedded file may not exist before dbt runs)."""
        return True

    @classmethod
    def validation_connection(cls, config: ProjectConfig, target: Target) -> tuple[str, dict[str, Any]]:
        """(URL, engine kwargs) for Great Expectations; the engine's GX fit is named by ``dialect``
        in ``validation/gx_engines.py``."""
        raise ConfigError(
            f"fwctl validate does not run on {target.type!r} warehouses yet",
            where=f"profiles.yml: {target.name}",
            hint=f"validation supports the {', '.join(ENGINES)} targets",
        )

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

    def create_table_as(self, relation: str, sql: str, *, n_columns: int = 0) -> None:
        """Create or replace ``relation`` from a query, all or nothing (``n_columns``: how wide
        the result is, for engines that write wide tables differently)."""
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

    def stage_arrow(self, name: str, table: "pa.Table") -> str:  # noqa: F821
        """A temp relation ``name`` over an in-memory Arrow table; returns the name to select from."""
        return self.upload_arrow(name, portable_arrow(table), temporary=True)

    def stage_parquet(self, name: str, files: Sequence[str], row_id: str) -> str:
        """A temp relation ``name`` over Parquet files on this machine, plus a column ``row_id``
        numbering the rows in file order (0, 1, ...). Streamed up in Arrow batches by default."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.dataset as ds

        dataset = ds.dataset(list(files), format="parquet")
        schema = portable_arrow(dataset.schema.empty_table()).schema.append(pa.field(row_id, pa.int64()))

        def batches() -> Iterator[Any]:
            offset = 0
            for batch in dataset.to_batches(batch_size=DEFAULT_BATCH_ROWS):
                ids = pa.array(np.arange(offset, offset + batch.num_rows, dtype=np.int64))
                offset += batch.num_rows
                columns = [c.cast(f.type, safe=False) for c, f in zip(batch.columns, schema)]
                yield pa.RecordBatch.from_arrays([*columns, ids], schema=schema)

        return self.upload_arrow(name, pa.RecordBatchReader.from_batches(schema, batches()), temporary=True)

    def stage_query(self, name: str, source: str, row_id: str) -> str:
        """A temp relation ``name`` holding the rows of ``source`` (a table name or a
        parenthesized query), computed once, plus a column ``row_id`` numbering them in the
        query's output order (its ORDER BY kept)."""
        raise ConfigError(
            f"fwctl cannot number a SQL spine's rows on {self.dialect or type(self).__name__} yet",
            hint="pass the spine as a DataFrame, an Arrow table or Parquet files",
        )

    def write_parquet(self, sql: str, path: str) -> None:
        """Write the query's result to the Parquet file ``path`` (streamed, bounded in memory)."""
        import pyarrow.parquet as pq

        writer = None
        try:
            for batch in self.stream(sql):
                if writer is None:
                    writer = pq.ParquetWriter(path, batch.schema)
                writer.write_batch(batch)
            if writer is None:  # no rows: still write the schema
                writer = pq.ParquetWriter(path, self.fetch_arrow(f"select * from ({sql}) as q limit 0").schema)
        finally:
            if writer is not None:
                writer.close()

    @classmethod
    def minus_seconds(cls, expr: str, seconds: int) -> str:
        """``expr - seconds`` on a timestamp, keeping its fraction of a second (the macros' fw_pit_minus_ttl)."""
        return f"({expr} - interval '{seconds} seconds')"

    @classmethod
    def newest_first_lists(cls, ts: str, value: str | None, order: str, keep: str) -> tuple[str, str | None]:
        """Aggregates of a group's ``ts`` (and ``value``) over the rows where ``keep`` holds, as two
        lists in one order, ``order`` (``ts desc, value desc``; empty group: NULL or an empty list)."""
        def agg(x: str) -> str:
            return f"array_agg({x} order by {order}) filter (where {keep})"
        return agg(ts), (agg(value) if value else None)

    @contextlib.contextmanager
    def memory_cap(self, limit: str | None) -> Iterator[None]:
        """Cap the memory an embedded engine takes in this process while the block runs; an
        engine on a server of its own bounds its memory there (nothing to do here)."""
        yield

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresWarehouse(Warehouse):
    dialect = "postgres"
    TEXT_ORDER_COLLATE = ' collate "C"'
    GX_ENGINE = "featurewarehouse.validation.gx_engines:PostgresGx"
    PIT_CHOOSES_BY_SPINE_SIZE = True
    MONITOR_FLAVOR = "featurewarehouse.monitoring.sql:PostgresFlavor"

    @classmethod
    def validation_connection(cls, config: ProjectConfig, target: Target) -> tuple[str, dict[str, Any]]:
        return postgres_uri(target.settings).replace("postgresql://", "postgresql+psycopg2://", 1), {}

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

    def stage_query(self, name: str, source: str, row_id: str) -> str:
        # nextval() is parallel-unsafe, so PostgreSQL numbers the rows in the query's
        # output order (after its ORDER BY).
        from featurewarehouse.offline.spine import quote, string_literal

        seq = name + "__seq"
        self.execute(f"drop sequence if exists {quote(seq)}")
        self.execute(f"create temp sequence {quote(seq)}")
        self.execute(f"drop table if exists {quote(name)}")
        self.execute(f"create temp table {quote(name)} as select q.*, nextval({string_literal(quote(seq))}) - 1 "
                     f"as {quote(row_id)} from {source} as q")
        return quote(name)

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


# dbt adapter type -> "module:Class": a fourth engine is one module plus one entry here.
# Named, not imported, so that an engine's client library loads only when its target is used.
ENGINES = {
    "duckdb": "featurewarehouse.offline.duckdb:DuckDBWarehouse",
    "postgres": "featurewarehouse.offline.warehouse:PostgresWarehouse",
    "spark": "featurewarehouse.offline.spark:SparkWarehouse",
}


def engine_named(adapter_type: str) -> type[Warehouse]:
    """The Warehouse class of a dbt adapter type (``Target.type``); see :func:`engine_class`."""
    return engine_class(Target(adapter_type, adapter_type, {}))


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


def portable_arrow(table: "pa.Table") -> "pa.Table":  # noqa: F821
    """Arrow types an upload path (PostgreSQL's COPY, Spark's createDataFrame) may not take,
    turned into ones it can with the same values: dictionaries decoded, nanoseconds truncated
    to microseconds (finer than any feature timestamp), all-NULL columns as text."""
    import pyarrow as pa
    import pyarrow.types as t

    fields = []
    changed = False
    for f in table.schema:
        typ = f.type
        if t.is_dictionary(typ):
            typ, changed = typ.value_type, True
        if t.is_timestamp(typ) and typ.unit == "ns":
            typ, changed = pa.timestamp("us", typ.tz), True
        if typ == pa.null():
            typ, changed = pa.string(), True
        fields.append(pa.field(f.name, typ))
    if not changed:
        return table
    return table.cast(pa.schema(fields), safe=False)


# Moved to offline/duckdb.py (the DuckDB engine's module); still importable from here.
_DUCKDB_NAMES = ("DuckDBWarehouse", "duckdb_path", "PLANNER_SETTINGS", "_held_by_another_process")


def __getattr__(name: str) -> Any:
    if name in _DUCKDB_NAMES:
        from featurewarehouse.offline import duckdb as _duckdb

        return getattr(_duckdb, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
