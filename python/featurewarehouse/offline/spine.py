"""The entity dataframe ("spine") of a historical retrieval: what it is, and whether it fits.

A spine arrives as a pandas DataFrame, an Arrow table, a Parquet path, or SQL
(a query or a relation already in the warehouse). This module classifies the
input, checks its columns against the entities of the requested feature views
(missing join key with "did you mean", wrong type, missing or unusable
timestamp column) and renders the SQL expression that normalizes the spine's
timestamp to UTC. It never touches a warehouse: the caller passes the spine's
column types as an Arrow schema, so the same checks cover every input kind.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from featurewarehouse.contract.types import arrow_family, families_compatible
from featurewarehouse.contract.types import type_family as dtype_family  # noqa: F401  (staging.py imports it here)
from featurewarehouse.errors import ConfigError
from featurewarehouse.refs import did_you_mean

ROW_ID = "__fw_row_id"
EVENT_TS = "__fw_event_ts"
RESERVED = (ROW_ID, EVENT_TS)

# Families (contract/types.py) as words for error messages
_FAMILY_WORDS = {
    "integer": "an integer", "text": "a string", "float": "a floating-point number",
    "decimal": "a decimal", "boolean": "a boolean", "date": "a date", "time": "a time of day",
    "timestamp": "a timestamp", "timestamptz": "a timestamp with time zone", "binary": "binary",
    "null": "all-NULL (no type)", "other": "an unsupported type",
}


def _compatible(column_family: str, key_family: str) -> bool:
    # an all-NULL spine column has no type to disagree with; a DECIMAL(18,0) compares fine with BIGINT
    return column_family == "null" or families_compatible(column_family, key_family)


# ---- inputs ------------------------------------------------------------------

@dataclass(frozen=True)
class ArrowSpine:
    """An in-memory spine (pandas or Arrow), uploaded with a client-side row id."""

    table: Any  # pyarrow.Table


@dataclass(frozen=True)
class ParquetSpine:
    """Parquet file(s) on disk: DuckDB scans them in place; Postgres gets them in batches over COPY."""

    files: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.files[0] if len(self.files) == 1 else f"{len(self.files)} Parquet files"


@dataclass(frozen=True)
class SqlSpine:
    """A query or relation already in the warehouse: it never leaves the warehouse."""

    sql: str
    is_query: bool

    @property
    def source(self) -> str:
        """What a FROM clause takes: the relation's name, or the query parenthesized."""
        return f"({self.sql})" if self.is_query else self.sql


SpineInput = ArrowSpine | ParquetSpine | SqlSpine
_QUERY_START = re.compile(r"^\s*\(?\s*(select|with|from|values|table)\b", re.IGNORECASE)
_RELATION = re.compile(r'^\s*("[^"]+"|[A-Za-z_][\w$]*)(\s*\.\s*("[^"]+"|[A-Za-z_][\w$]*)){0,2}\s*$')


def size_bound(rows: int) -> int:
    """The next power of two at or above ``rows``: the spine's size class (a cached rendering of
    the PIT macro serves every spine of its class)."""
    return 1 << max(0, rows - 1).bit_length()


def spine_size_bound(spine: SpineInput) -> int | None:
    """The size class of a spine known before it is staged, for the PIT macro's choice of
    formulation; None for a spine in the warehouse (counted there, if at all)."""
    if isinstance(spine, ArrowSpine):
        return size_bound(spine.table.num_rows)
    if isinstance(spine, ParquetSpine):
        import pyarrow.parquet as pq

        return size_bound(sum(pq.read_metadata(f).num_rows for f in spine.files))
    return None


def classify(entity_df: Any) -> SpineInput:
    """Tell what kind of spine the caller passed.

    >>> classify("select * from labels").is_query
    True
    >>> classify("analytics.fraud_labels")
    SqlSpine(sql='analytics.fraud_labels', is_query=False)
    """
    import pyarrow as pa

    if isinstance(entity_df, pa.Table):
        return ArrowSpine(entity_df)
    if isinstance(entity_df, pa.RecordBatch):
        return ArrowSpine(pa.Table.from_batches([entity_df]))
    if _is_pandas(entity_df):
        return ArrowSpine(_from_pandas(entity_df))
    if isinstance(entity_df, Path) or (isinstance(entity_df, str) and _looks_like_path(entity_df)):
        return ParquetSpine(_parquet_files(str(entity_df)))
    if isinstance(entity_df, str):
        text = entity_df.strip().rstrip(";")
        if _QUERY_START.match(text):
            return SqlSpine(text, is_query=True)
        if _RELATION.match(text):
            return SqlSpine(text, is_query=False)
        raise ConfigError(
            f"cannot tell what the spine {entity_df[:80]!r} is",
            where="entity_df",
            hint="pass a pandas DataFrame, a pyarrow Table, a path to a .parquet file or directory, "
            "a SELECT query, or a table name",
        )
    raise ConfigError(
        f"unsupported spine type {type(entity_df).__name__}",
        where="entity_df",
        hint="pass a pandas DataFrame, a pyarrow Table, a Parquet path, a SELECT query or a table name",
    )


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"


def _from_pandas(df: Any) -> Any:
    import pyarrow as pa

    if df.columns.duplicated().any():
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ConfigError(f"the spine has duplicate column names: {', '.join(dupes)}", where="entity_df")
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ConfigError(
            f"the spine dataframe cannot be converted to Arrow: {exc}",
            where="entity_df",
            hint="give every column one type (e.g. parse timestamps with pandas.to_datetime)",
        ) from exc


def _looks_like_path(text: str) -> bool:
    if "\n" in text or _QUERY_START.match(text):
        return False
    lowered = text.lower()
    return lowered.endswith((".parquet", ".pq")) or os.sep in text or os.path.exists(text) or "*" in text


def _parquet_files(path: str) -> tuple[str, ...]:
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
    elif any(ch in path for ch in "*?["):
        files = sorted(glob.glob(path, recursive=True))
    else:
        files = [path] if os.path.isfile(path) else []
    if not files:
        raise ConfigError(
            f"no Parquet file at {path}",
            where="entity_df",
            hint="pass an existing .parquet file, a directory of them, or a glob",
        )
    return tuple(os.path.abspath(f) for f in files)


# ---- checks --------------------------------------------------------------------

@dataclass(frozen=True)
class KeyRequirement:
    """A join key the spine must carry, and who needs it (for the error message)."""

    name: str
    dtype: str
    entity: str
    views: tuple[str, ...]


def check_spine(
    schema: Any,
    *,
    timestamp_column: str | None,
    keys: Sequence[KeyRequirement],
    feature_columns: Iterable[str] = (),
    row_id_column: str | None = None,
) -> str:
    """Check the spine's columns; return the timestamp column to use.

    ``schema`` is the spine's Arrow schema (without the internal row id).
    Raises :class:`ConfigError` naming the column, what is wrong and the fix.
    """
    names = [f.name for f in schema]
    families = {f.name: arrow_family(f.type) for f in schema}
    for name in names:
        if name in RESERVED:
            raise ConfigError(
                f"the spine column {name!r} uses a name fwctl reserves for itself",
                where=f"spine column {name}",
                hint="rename the column",
            )
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"the spine has duplicate column names: {', '.join(dupes)}", where="entity_df")

    ts = _pick_timestamp(names, families, timestamp_column)

    for key in keys:
        views = ", ".join(key.views)
        if key.name not in families:
            raise ConfigError(
                f"the spine has no column {key.name!r}, the join key of entity {key.entity!r} "
                f"needed by {views}." + did_you_mean(key.name, names),
                where="spine columns: " + ", ".join(names),
                hint=f"add or rename a column to {key.name!r} ({key.dtype})",
            )
        want = dtype_family(key.dtype)
        have = families[key.name]
        if want is not None and not _compatible(have, want):
            hint = f"cast it to {key.dtype}"
            if have == "float" and want == "integer":
                hint += " (a pandas int column with missing values turns float: use the nullable 'Int64' dtype)"
            raise ConfigError(
                f"the spine column {key.name!r} is {_FAMILY_WORDS[have]} ({schema.field(key.name).type}), "
                f"but entity {key.entity!r} declares {key.name} as {key.dtype}",
                where=f"spine column {key.name}",
                hint=hint,
            )

    clashes = [c for c in feature_columns if c in families]
    if clashes:
        raise ConfigError(
            f"the spine already has column(s) named like requested features: {', '.join(clashes)}",
            where="spine columns",
            hint="rename or drop those spine columns, or pass full_feature_names=True (columns view__feature)",
        )
    if row_id_column and row_id_column in families:
        raise ConfigError(
            f"row_id_column {row_id_column!r} is already a spine column",
            where=f"spine column {row_id_column}",
            hint="choose another name for the row id",
        )
    return ts


def _pick_timestamp(names: list[str], families: Mapping[str, str], wanted: str | None) -> str:
    time_like = [n for n in names if families[n] in ("timestamp", "timestamptz", "date")]
    if wanted is None:
        if len(time_like) == 1:
            return time_like[0]
        found = ", ".join(time_like) if time_like else "none"
        raise ConfigError(
            "cannot tell which spine column is the event time "
            f"(timestamp or date columns: {found})",
            where="spine columns: " + ", ".join(names),
            hint="pass timestamp_column=... (fwctl: --timestamp-column)",
        )
    if wanted not in families:
        raise ConfigError(
            f"the spine has no timestamp column {wanted!r}." + did_you_mean(wanted, names),
            where="spine columns: " + ", ".join(names),
            hint="pass the name of the spine's event-time column as timestamp_column",
        )
    if families[wanted] not in ("timestamp", "timestamptz", "date", "null"):
        raise ConfigError(
            f"the spine column {wanted!r} is {_FAMILY_WORDS[families[wanted]]}, not a timestamp or date",
            where=f"spine column {wanted}",
            hint="parse it first, e.g. df[col] = pandas.to_datetime(df[col], utc=True)",
        )
    return wanted


def quote(name: str) -> str:
    """Quote an identifier for DuckDB and Postgres alike.

    >>> print(quote('a"b'))
    "a""b"
    """
    return '"' + name.replace('"', '""') + '"'


def string_literal(text: str) -> str:
    """A SQL string literal (a file path, a setting's value).

    >>> print(string_literal("it's"))
    'it''s'
    """
    return "'" + text.replace("'", "''") + "'"


def utc_timestamp_sql(column: str, family: str) -> str:
    """SQL turning the spine's time column into a UTC timestamp without time zone.

    Naive timestamps are taken as UTC, aware ones converted to UTC, a DATE is
    midnight UTC. Finer-than-microsecond values are truncated, which never
    changes a PIT answer because feature timestamps are microseconds.

    >>> utc_timestamp_sql("ts", "timestamptz")
    'cast(("ts" at time zone \\'UTC\\') as timestamp)'
    """
    col = quote(column)
    if family == "timestamptz":
        return f"cast(({col} at time zone 'UTC') as timestamp)"
    if family in ("timestamp", "date", "null"):
        return f"cast({col} as timestamp)"
    raise ConfigError(f"the spine column {column!r} is not a timestamp or date", where=f"spine column {column}")
