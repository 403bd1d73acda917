"""Column type families, to compare a declared ``data_type`` with the warehouse's.

Two types match when they fall in the same family: ``bigint`` and ``INT64``
and ``int8`` are all integers; ``double`` and ``numeric`` are both fractional.
Width differences are not reported (DuckDB's ``sum(bigint)`` is a HUGEINT);
a string where a number was declared is.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=512)
def type_family(dtype: str, dialect: str = "duckdb") -> str | None:
    """The family of a SQL type name, or None when it cannot be parsed.

    >>> type_family("BIGINT"), type_family("int8", "postgres"), type_family("HUGEINT")
    ('integer', 'integer', 'integer')
    >>> type_family("double precision", "postgres"), type_family("DECIMAL(18,2)")
    ('fractional', 'fractional')
    >>> type_family("character varying", "postgres"), type_family("timestamp with time zone", "postgres")
    ('text', 'timestamp')
    """
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    text = (dtype or "").strip()
    if not text:
        return None
    try:
        dt = exp.DataType.build(text, dialect=dialect)
    except (SqlglotError, ValueError):
        try:
            dt = exp.DataType.build(text)
        except (SqlglotError, ValueError):
            return text.lower()
    t = dt.this
    T = exp.DataType.Type
    if t in exp.DataType.INTEGER_TYPES:
        return "integer"
    if t in exp.DataType.REAL_TYPES:
        return "fractional"
    if t in exp.DataType.TEXT_TYPES or t in (T.UUID,):
        return "text"
    if t == T.BOOLEAN:
        return "boolean"
    if t in exp.DataType.TEMPORAL_TYPES:
        if t in (T.DATE, T.DATE32):
            return "date"
        if t in (T.TIME, T.TIMETZ):
            return "time"
        return "timestamp"
    if t == T.UNKNOWN or t == T.USERDEFINED:
        return text.lower()
    return t.value.lower()


def types_match(declared: str, actual: str, dialect: str = "duckdb") -> bool:
    a, b = type_family(declared, dialect), type_family(actual, dialect)
    return a is None or b is None or a == b
