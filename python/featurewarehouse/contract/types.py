"""Type families: one answer to "what kind of value is this column?".

A *family* groups the type names of every engine that hold the same kind of
value: DuckDB ``ubigint``, BigQuery ``int64`` and PostgreSQL ``int8`` are all
``integer``. SQL type names are read with sqlglot in the project's dialect;
Arrow types (a spine, a batch) map to the same families. The Jinja twin is
``fw_type_family`` in ``macros/fw_contract.sql``; ``tests/contract_cases``
proves both give the same answer.

Families: integer, float, decimal, text, boolean, date, time, timestamp
(naive), timestamptz (time-zone aware), binary. A name of no family (json,
arrays, geometry, a typo) has family None: no type check is made for it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

FAMILIES = ("integer", "float", "decimal", "text", "boolean", "date", "time", "timestamp", "timestamptz", "binary")

# Families whose values compare correctly with each other in SQL: an integer key
# against a DECIMAL(38,0) (Snowflake's INTEGER), a double against a numeric, a
# naive timestamp against an aware one. Anything else (text vs integer) is a mismatch.
_COMPATIBLE = {
    frozenset(("integer", "decimal")),
    frozenset(("float", "decimal")),
    frozenset(("timestamp", "timestamptz")),
}

# dbt adapter types that sqlglot knows under another name
_SQLGLOT_DIALECT = {"databricks": "databricks", "postgres": "postgres", "redshift": "redshift"}
# dbt adapter types whose SQL the registry parses in their own sqlglot dialect; any other
# adapter's SQL is parsed as DuckDB's (the most permissive of them).
SQLGLOT_ADAPTERS = frozenset(("duckdb", "postgres", "snowflake", "bigquery", "spark", "trino", "redshift", "databricks"))


def _family_of_sqlglot(t: Any) -> str | None:
    from sqlglot import exp

    T = exp.DataType.Type
    table = {
        "integer": {T.TINYINT, T.SMALLINT, T.MEDIUMINT, T.INT, T.BIGINT, T.INT128, T.INT256, T.UTINYINT,
                    T.USMALLINT, T.UMEDIUMINT, T.UINT, T.UBIGINT, T.UINT128, T.UINT256, T.SERIAL,
                    T.SMALLSERIAL, T.BIGSERIAL},
        "float": {T.FLOAT, T.DOUBLE},
        "decimal": {T.DECIMAL, T.BIGDECIMAL, T.UDECIMAL, T.MONEY, T.SMALLMONEY}
        | {getattr(T, n) for n in ("DECIMAL32", "DECIMAL64", "DECIMAL128", "DECIMAL256") if hasattr(T, n)},
        "text": {T.CHAR, T.NCHAR, T.VARCHAR, T.NVARCHAR, T.TEXT, T.MEDIUMTEXT, T.LONGTEXT, T.TINYTEXT, T.UUID,
                 T.BPCHAR, T.NAME},
        "boolean": {T.BOOLEAN},
        "date": {T.DATE, T.DATE32},
        "time": {T.TIME, T.TIMETZ},
        "timestamp": {T.TIMESTAMP, T.TIMESTAMPNTZ, T.DATETIME, T.DATETIME2, T.DATETIME64, T.SMALLDATETIME,
                      T.TIMESTAMP_S, T.TIMESTAMP_MS, T.TIMESTAMP_NS},
        "timestamptz": {T.TIMESTAMPTZ, T.TIMESTAMPLTZ},
        "binary": {T.BINARY, T.VARBINARY, T.BLOB, T.MEDIUMBLOB, T.LONGBLOB, T.TINYBLOB},
    }
    for family, types in table.items():
        if t in types:
            return family
    return None


@lru_cache(maxsize=1024)
def type_family(dtype: str | None, dialect: str | None = "duckdb") -> str | None:
    """The family of a SQL type name in ``dialect`` (a dbt adapter type), or None.

    >>> type_family("UBIGINT"), type_family("int64", "bigquery"), type_family("int8", "postgres")
    ('integer', 'integer', 'integer')
    >>> type_family("numeric"), type_family("double precision", "postgres"), type_family("timestamptz")
    ('decimal', 'float', 'timestamptz')
    >>> type_family("timestamp", "bigquery"), type_family("geometry") is None
    ('timestamptz', True)
    """
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    text = (dtype or "").strip() if isinstance(dtype, str) else ""
    if not text:
        return None
    for d in dict.fromkeys((_SQLGLOT_DIALECT.get(dialect or "", dialect), None)):
        try:
            built = exp.DataType.build(text, dialect=d) if d else exp.DataType.build(text)
        except (SqlglotError, ValueError, KeyError, TypeError):
            continue
        return _family_of_sqlglot(built.this)
    return None


def arrow_family(arrow_type: Any) -> str:
    """The family of an Arrow type, or ``"null"`` (all-NULL column) or ``"other"``.

    >>> import pyarrow as pa
    >>> arrow_family(pa.uint64()), arrow_family(pa.timestamp("us", tz="UTC")), arrow_family(pa.decimal128(18, 2))
    ('integer', 'timestamptz', 'decimal')
    """
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return arrow_family(arrow_type.value_type)
    if t.is_integer(arrow_type):
        return "integer"
    if t.is_floating(arrow_type):
        return "float"
    if t.is_decimal(arrow_type):
        return "decimal"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or getattr(t, "is_string_view", lambda _: False)(arrow_type):
        return "text"
    if t.is_boolean(arrow_type):
        return "boolean"
    if t.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if t.is_date(arrow_type):
        return "date"
    if t.is_time(arrow_type):
        return "time"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type) or t.is_fixed_size_binary(arrow_type):
        return "binary"
    if arrow_type == pa.null():
        return "null"
    return "other"


def families_compatible(a: str | None, b: str | None) -> bool:
    """Whether values of the two families compare correctly (None: unknown, so no complaint).

    >>> families_compatible("integer", "decimal"), families_compatible("text", "integer")
    (True, False)
    """
    return a is None or b is None or a == b or frozenset((a, b)) in _COMPATIBLE


def types_match(declared: str, actual: str, dialect: str | None = "duckdb") -> bool:
    """Whether a declared type and the warehouse's type hold the same kind of value.

    Width is ignored (DuckDB's ``sum(bigint)`` is a HUGEINT); a string where a
    number was declared is a mismatch.

    >>> types_match("bigint", "HUGEINT"), types_match("bigint", "VARCHAR")
    (True, False)
    """
    return families_compatible(type_family(declared, dialect), type_family(actual, dialect))


def is_time_family(family: str | None) -> bool:
    """A family a feature view's timestamp column may have."""
    return family in ("timestamp", "timestamptz", "date")
