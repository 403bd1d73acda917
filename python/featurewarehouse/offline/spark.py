"""Spark as a warehouse, through Spark Connect (the client needs no JVM and receives Arrow).

The profile target is dbt-spark's ``session`` method; dbt-spark and fwctl both
reach the server named by ``SPARK_REMOTE`` (``sc://host:port``), which the
target's ``host`` may also carry. Databricks Connect speaks the same protocol.

Engine differences the callers ask about (not ``if dialect ==``):

- Spark has temp *views*, not temp tables: an upload is a DataFrame made from
  Arrow on the server, registered as a session temp view (or saved as a table
  when ``schema`` is given).
- Spark's ``timestamp`` is session-local time; the session is set to UTC and
  results come back as naive UTC timestamps, as DuckDB's and PostgreSQL's
  ``timestamp`` columns do, so every caller sees one convention.
- Double-quoted names are identifiers (ANSI), as on the other engines, so the
  project's one quoting helper (``offline.spine.quote``) works here too.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
from typing import Any, Iterator

from featurewarehouse.errors import ConfigError, ServiceUnavailable
from featurewarehouse.offline.warehouse import DEFAULT_BATCH_ROWS, Target, Warehouse

DEFAULT_REMOTE = "sc://127.0.0.1:15002"

# Per-session settings that make Spark read the project's SQL as the other engines do.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
}


def spark_remote(settings: dict[str, Any]) -> str:
    """The Spark Connect URL of a spark target, where dbt-spark's session method finds it too:
    the target's ``server_side_parameters: {spark.remote: ...}``, else ``SPARK_REMOTE``, else
    the local default.

    >>> spark_remote({"server_side_parameters": {"spark.remote": "sc://10.0.0.5:15002"}})
    'sc://10.0.0.5:15002'
    """
    params = settings.get("server_side_parameters") or {}
    return str(params.get("spark.remote") or os.environ.get("SPARK_REMOTE") or DEFAULT_REMOTE)


# pyspark logs every failed query to stderr through these loggers before raising it; fwctl
# raises the error (with where and hint) itself, and library code never prints.
_PYSPARK_ERROR_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")


class SparkWarehouse(Warehouse):
    dialect = "spark"
    SUPPORTS_ASOF_JOIN = False
    SUPPORTS_TEMP_TABLES = False  # session temp views only
    SUPPORTS_TRANSACTIONS = False
    GX_ENGINE = "featurewarehouse.validation.gx_engines:SparkGx"
    MONITOR_FLAVOR = "featurewarehouse.monitoring.sql:SparkFlavor"
    # ORDER BY keys on the latest values is a sampling job, a range exchange and a sort on top of
    # the query: 8.4 s against 5.0 s unordered (1M keys, 2M rows, local[2]), to save 0.7 s of
    # SQLite's sorted inserts. Unordered, each partition still comes out sorted by key (the
    # window's sort), so a B-tree store receives a few sorted runs.
    GLOBAL_SORT_IS_CHEAP = False

    @classmethod
    def minus_seconds(cls, expr: str, seconds: int) -> str:
        # an interval literal's seconds lose nothing, but dbt-spark's dateadd drops fractions: same as the macros
        return f"({expr} - make_dt_interval(0, 0, 0, {seconds}))"

    @classmethod
    def newest_first_lists(cls, ts: str, value: str | None, order: str, keep: str) -> tuple[str, str | None]:
        # no ordered array_agg: sort (ts, value) pairs descending, which is `ts desc, value desc`
        # (strings compare by code point, decision 0001's order); the two lists come from one sort
        pairs = f"sort_array(collect_list(struct({ts} as t, {value or 'null'} as v)) filter (where {keep}), false)"
        return f"transform({pairs}, e -> e.t)", (f"transform({pairs}, e -> e.v)" if value else None)

    @classmethod
    def from_target(cls, config: Any, target: Target, *, read_only: bool = False) -> "SparkWarehouse":
        return cls(spark_remote(target.settings), schema=target.schema)

    @classmethod
    def validation_connection(cls, config: Any, target: Target) -> tuple[str, dict[str, Any]]:
        # GX's Spark engine over Spark Connect DataFrames: the URL is sc://...
        return spark_remote(target.settings), {"schema": target.schema}

    def __init__(self, remote: str = DEFAULT_REMOTE, schema: str | None = None):
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise ConfigError(
                "the spark target needs the spark extra", hint='pip install "featurewarehouse[spark]"'
            ) from exc
        self.remote = remote
        self._cached: list[str] = []  # staged relations held in the server's cache until close()
        from pyspark.logger import PySparkLogger  # its class: pyspark logs with extra keyword arguments

        for name in _PYSPARK_ERROR_LOGGERS:
            PySparkLogger.getLogger(name).setLevel(logging.CRITICAL + 1)
        try:
            # create(), not getOrCreate(): temp views (uploads, the staged spine) belong to
            # this connection only, as a DuckDB or PostgreSQL connection's temp tables do.
            self.spark = _private_session(SparkSession.builder.remote(remote))
            for key, value in SESSION_CONF.items():
                self.spark.conf.set(key, value)
        except Exception as exc:
            raise ServiceUnavailable(
                f"cannot connect to Spark Connect at {remote}: {str(exc).strip().splitlines()[0]}",
                hint="start a Spark Connect server (see docs/engines.md, Spark) or set SPARK_REMOTE=sc://host:port",
            ) from exc
        self.schema = schema
        if schema:
            from featurewarehouse.offline.spine import quote

            self.execute(f"create schema if not exists {quote(schema)}")
            self.execute(f"use {quote(schema)}")

    def execute(self, sql: str) -> None:
        # spark.sql runs commands (DDL, inserts) eagerly; collect() forces anything lazy.
        self.spark.sql(sql).collect()

    def stream(self, sql: str, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[Any]:
        """Arrow batches as the server sends them (Spark Connect streams Arrow over gRPC),
        regrouped to about ``batch_rows`` rows: the client never holds the whole result."""
        import pyarrow as pa

        df = self.spark.sql(sql)
        schema = _naive_utc_schema(_arrow_schema(df))
        pending: list[Any] = []
        n = 0
        for table in _result_tables(df):
            table = _to_schema(table, schema)
            pending.append(table)
            n += table.num_rows
            while n >= batch_rows:
                merged = pa.concat_tables(pending)
                head, rest = merged.slice(0, batch_rows), merged.slice(batch_rows)
                yield from head.combine_chunks().to_batches()
                pending, n = [rest], rest.num_rows
        if n:
            yield from pa.concat_tables(pending).combine_chunks().to_batches()

    def fetch_arrow(self, sql: str) -> Any:
        df = self.spark.sql(sql)
        return _to_schema(df.toArrow(), _naive_utc_schema(_arrow_schema(df)))

    def upload_arrow(self, table_name: str, data: Any, *, temporary: bool = True, schema: str | None = None) -> str:
        import pyarrow as pa

        from featurewarehouse.offline.spine import quote

        if isinstance(data, pa.RecordBatchReader):
            data = data.read_all()  # createDataFrame takes a table; Spark Connect ships it in chunks
        from pyspark.sql.pandas.types import from_arrow_schema

        # the schema given, not inferred: an empty table has nothing to infer from, and naive
        # timestamps become Spark's `timestamp` (UTC in this session), what dbt's casts produce
        df = self.spark.createDataFrame(data, schema=from_arrow_schema(data.schema, prefer_timestamp_ntz=False))
        if temporary and not schema:
            df.createOrReplaceTempView(table_name)
            return quote(table_name)
        relation = f"{quote(schema)}.{quote(table_name)}" if schema else quote(table_name)
        df.write.mode("overwrite").saveAsTable(relation.replace('"', "`"))
        return relation

    def relation_exists(self, relation: str) -> bool:
        try:
            self.spark.sql(f"select 1 from {relation} limit 0").schema  # analysis only, no job
            return True
        except Exception as exc:
            if re.search(r"TABLE_OR_VIEW_NOT_FOUND|SCHEMA_NOT_FOUND", str(exc)):
                return False
            raise

    def stage_query(self, name: str, source: str, row_id: str) -> str:
        """Spark has no sequence and no insertion-ordered rowid: ``monotonically_increasing_id()``
        is increasing in the query's output order (partition by partition, and a sorted
        result's partitions are its ranges in order), and ``row_number()`` over it makes the
        ids 0, 1, ... as on the other engines. ``cache table`` computes the rows and ids once:
        the id is not deterministic across re-evaluations, and the PIT SQL reads the spine
        several times."""
        from featurewarehouse.offline.spine import quote

        numbered = quote(name + "__numbered")
        self.execute(
            f"create or replace temp view {numbered} as select q.*, monotonically_increasing_id() as "
            f"{quote(row_id + '__mono')} from {source} as q"
        )
        columns = ", ".join(quote(c) for c in self.spark.sql(f"select * from {numbered}").columns if c != row_id + "__mono")
        self.execute(f"uncache table if exists {quote(name)}")
        self.execute(
            f"cache table {quote(name)} as select {columns}, row_number() over (order by "
            f"{quote(row_id + '__mono')}) - 1 as {quote(row_id)} from {numbered}"
        )
        self._cached.append(name)
        return quote(name)

    def create_table_as(self, relation: str, sql: str, *, n_columns: int = 0) -> None:
        # No transactions, and the session catalog cannot CREATE OR REPLACE: the query is written
        # to a side table first, so a failing query leaves the old table as it was.
        loading = relation[:-1] + '__loading"' if relation.endswith('"') else relation + "__loading"
        self.execute(f"drop table if exists {loading}")
        self.execute(f"create table {loading} as {sql}")
        self.execute(f"drop table if exists {relation}")
        self.execute(f"alter table {loading} rename to {relation}")

    def replace_table(self, schema: str, table: str, loaded: str) -> None:
        # Spark's session catalog has no transactions: drop, then rename (a failure between
        # the two leaves the new data under its loading name, never a half-written table).
        self.execute(f'drop table if exists "{schema}"."{table}"')
        self.execute(f'alter table "{schema}"."{loaded}" rename to "{schema}"."{table}"')

    def close(self) -> None:
        try:
            from featurewarehouse.offline.spine import quote

            for name in self._cached:
                self.execute(f"uncache table if exists {quote(name)}")
            self.spark.stop()
        except Exception:  # the server may already be gone; nothing to release here then
            pass


@contextlib.contextmanager
def as_default_session(session: Any) -> Iterator[None]:
    """Make ``session`` the process's default Spark Connect session while the block runs: for a
    library that looks the session up with ``getOrCreate()`` (Great Expectations' Spark
    datasource tests its connection so) and would otherwise need ``SPARK_REMOTE`` set."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    default = ConnectSession._default_session
    ConnectSession._default_session = session
    try:
        yield
    finally:
        ConnectSession._default_session = default


def _private_session(builder: Any) -> Any:
    """A new Spark Connect session that does not become the process's default one.

    pyspark makes the first session it creates the default, which dbt-spark's session
    method then picks up with getOrCreate() (and stops when its connection closes): fwctl
    and dbt run in one process, so each keeps a session of its own.
    """
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    default = ConnectSession._default_session
    active = getattr(ConnectSession._active_session, "session", None)
    session = builder.create()
    ConnectSession._default_session = default
    ConnectSession._active_session.session = active
    return session


def _arrow_schema(df: Any) -> Any:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(df.schema, timezone="UTC")


def _naive_utc_schema(schema: Any) -> Any:
    """The same schema with UTC timestamps as naive timestamps (the project's convention)."""
    import pyarrow as pa
    import pyarrow.types as t

    fields = []
    for f in schema:
        typ = pa.timestamp(f.type.unit) if t.is_timestamp(f.type) and f.type.tz else f.type
        fields.append(pa.field(f.name, typ, f.nullable))
    return pa.schema(fields)


def _to_schema(table: Any, schema: Any) -> Any:
    if table.schema.equals(schema):
        return table
    if table.num_columns != len(schema):  # an empty result may come back with no columns
        return schema.empty_table()
    return table.rename_columns(schema.names).cast(schema)


def _result_tables(df: Any) -> Iterator[Any]:
    """The result as Arrow tables in the order the server sends them (the client's own streaming
    path, which DataFrame.toLocalIterator uses before turning the batches into Python rows)."""
    from pyspark.sql.types import StructType

    client = df._session.client
    query = df._plan.to_proto(client)
    for item in client.to_table_as_iterator(query, df._plan.observations):
        if not isinstance(item, StructType):
            yield item
