"""How Great Expectations reads each engine's tables.

The warehouse class of a target (``offline/warehouse.py``) gives the connection
(``validation_connection``) and names its :class:`GxEngine` (``GX_ENGINE``): the datasource
GX builds, the fixes its execution engine needs, and how a suite's expectations are adapted
for the engine (the suite file itself never changes). The default is GX's SQL engine
through SQLAlchemy, which any engine with a SQLAlchemy dialect can use as it is.
"""
from __future__ import annotations

import importlib
from typing import Any


class GxEngine:
    """GX's SQL (SQLAlchemy) engine: metrics are SQL the warehouse runs, no table is pulled."""

    def __init__(self, url: str, engine_kwargs: dict[str, Any]) -> None:
        self.url = url
        self.engine_kwargs = engine_kwargs

    def datasource(self, context: Any) -> Any:
        datasource = context.data_sources.add_sql(name="warehouse", connection_string=self.url,
                                                  kwargs=self.engine_kwargs)
        self.fit(datasource.get_execution_engine())
        return datasource

    def fit(self, execution_engine: Any) -> None:
        """Fix what GX's engine gets wrong on this warehouse (only this engine object, never globally)."""

    def adapt(self, expectation: dict[str, Any]) -> dict[str, Any]:
        """The expectation as GX should run it on this engine (same meaning)."""
        return expectation

    def dataframe_of(self, relation: str) -> Any | None:
        """The table as a DataFrame for GX's DataFrame engines; None: GX reads it by name (SQL)."""
        return None

    def close(self, datasource: Any) -> None:
        datasource.get_execution_engine().engine.dispose()
        close_all = getattr(self.engine_kwargs.get("creator"), "close_all", None)
        if close_all is not None:  # connections the pool did not hold (DuckDB)
            close_all()


def _fit_postgres(execution_engine: Any) -> None:
    """Reflect PostgreSQL columns without lengths and precisions.

    GX compares PostgreSQL types as catalog strings, so ``varchar(2)`` would not
    match a declared ``varchar``; a declared type means its family, whatever
    the length or precision (timezone-awareness is kept).
    """
    import sqlalchemy as sa

    dialect = execution_engine.engine.dialect
    original = dialect.get_columns

    def get_columns(connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> list[dict]:
        columns = original(connection, table_name, schema=schema, **kw)
        out = []
        for col in columns:
            t = col.get("type")
            if isinstance(t, sa.String) and getattr(t, "length", None):
                col = {**col, "type": type(t)()}
            elif isinstance(t, sa.Numeric) and not isinstance(t, sa.Float) and (t.precision or t.scale):
                col = {**col, "type": type(t)()}
            out.append(col)
        return out

    dialect.get_columns = get_columns


class PostgresGx(GxEngine):
    def fit(self, execution_engine: Any) -> None:
        _fit_postgres(execution_engine)


# GX's Spark engine checks column types by pyspark.sql.types class name; a suite names SQL types.
# Spark's `timestamp` is what dbt's casts produce, so it stands for the naive family as well.
_SPARK_TYPES = {
    "integer": ("ByteType", "ShortType", "IntegerType", "LongType"),
    "float": ("FloatType", "DoubleType"),
    "decimal": ("DecimalType",),
    "text": ("StringType", "VarcharType", "CharType"),
    "boolean": ("BooleanType",),
    "date": ("DateType",),
    "timestamp": ("TimestampType", "TimestampNTZType"),
    "timestamptz": ("TimestampType",),
    "binary": ("BinaryType",),
}


def spark_type_names(type_list: list[str]) -> list[str]:
    """A suite's SQL type names as the pyspark type classes of the same families.

    >>> spark_type_names(["BIGINT", "INTEGER"])
    ['ByteType', 'ShortType', 'IntegerType', 'LongType']
    """
    from featurewarehouse.contract.types import type_family

    names: dict[str, None] = {}
    for name in type_list:
        for spark_name in _SPARK_TYPES.get(type_family(name) or "", ()):
            names[spark_name] = None
    return list(names) or list(type_list)


class SparkGx(GxEngine):
    """GX's Spark engine over Spark Connect DataFrames: every metric is computed on the server."""

    def datasource(self, context: Any) -> Any:
        from featurewarehouse.offline.spark import SparkWarehouse, as_default_session

        self.spark = SparkWarehouse(self.url, schema=self.engine_kwargs.get("schema"))
        # persist=False: no cached copy of each table on the server. GX runs query
        # expectations (unexpected_rows) on the engine's session, which must be the
        # DataFrames' own (their temp views are per session) and never a new local one;
        # its connection test looks a session up with getOrCreate(): ours, not SPARK_REMOTE's.
        with as_default_session(self.spark.spark):
            datasource = context.data_sources.add_spark(name="warehouse", persist=False)
        datasource._spark = self.spark.spark
        return datasource

    def adapt(self, expectation: dict[str, Any]) -> dict[str, Any]:
        kwargs = expectation.get("kwargs") or {}
        if "type_list" in kwargs:
            return {**expectation, "kwargs": {**kwargs, "type_list": spark_type_names(kwargs["type_list"])}}
        return expectation

    def dataframe_of(self, relation: str) -> Any:
        return self.spark.spark.table(relation)

    def close(self, datasource: Any) -> None:
        self.spark.close()


def gx_engine(dialect: str, url: str, engine_kwargs: dict[str, Any]) -> GxEngine:
    """The GX engine of a warehouse engine (a dbt adapter type), as its warehouse class names it."""
    from featurewarehouse.offline.warehouse import engine_named

    module, cls = engine_named(dialect).GX_ENGINE.split(":")
    return getattr(importlib.import_module(module), cls)(url, engine_kwargs)
