"""Staging a spine in the warehouse for historical retrieval.

The spine lands as ``__fw_spine_raw`` (the caller's columns plus a row id
assigned on the way in, never by a global ``ROW_NUMBER()``), and the view
``__fw_spine`` adds the UTC-normalized event time the PIT macro joins on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from featurewarehouse.errors import ConfigError
from featurewarehouse.offline.spine import (
    EVENT_TS,
    ROW_ID,
    ArrowSpine,
    KeyRequirement,
    ParquetSpine,
    SpineInput,
    SqlSpine,
    arrow_family,
    quote,
    utc_timestamp_sql,
)

SPINE_VIEW = "__fw_spine"  # what the macro joins against (a temp view)
_RAW = "__fw_spine_raw"  # the staged spine with its row id


@dataclass(frozen=True)
class StagedSpine:
    schema: Any  # Arrow schema of the caller's columns (no row id)
    label: str  # for messages


def _schema_of(wh: Any, sql: str) -> Any:
    """The Arrow schema of a query, without fetching rows."""
    return wh.fetch_arrow(f"select * from ({sql}) as q limit 0").schema


def _with_row_ids(table: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    return table.append_column(ROW_ID, pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _typed_nulls(table: Any, keys: Sequence[KeyRequirement], timestamp_column: str) -> Any:
    """All-NULL key or time columns (no Arrow type) get the type they stand for, so they compare."""
    import pyarrow as pa

    from featurewarehouse.offline.spine import dtype_family

    wanted = {k.name: pa.int64() if dtype_family(k.dtype) == "integer" else pa.string() for k in keys}
    wanted[timestamp_column] = pa.timestamp("us")
    for i, f in enumerate(table.schema):
        if f.type == pa.null() and f.name in wanted:
            table = table.set_column(i, f.name, table.column(i).cast(wanted[f.name]))
    return table


def stage_spine(wh: Any, spine: SpineInput) -> StagedSpine:
    """Put the spine in the warehouse as ``__fw_spine_raw`` (caller's columns + row id).

    How each kind lands is the warehouse's business (``Warehouse.stage_arrow``,
    ``stage_parquet``, ``stage_query``): DuckDB scans Arrow and Parquet in place, the
    others receive Arrow batches; a SQL spine never leaves the warehouse.
    """
    if isinstance(spine, ArrowSpine):
        wh.stage_arrow(_RAW, _with_row_ids(spine.table))
        label = "entity_df"
    elif isinstance(spine, ParquetSpine):
        wh.stage_parquet(_RAW, spine.files, ROW_ID)
        label = spine.label
    elif isinstance(spine, SqlSpine):
        try:
            wh.stage_query(_RAW, spine.source, ROW_ID)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"the spine query failed in the warehouse: {str(exc).strip().splitlines()[0]}",
                where=f"spine: {spine.sql[:200]}",
                hint="run the query by hand against the same target",
            ) from exc
        label = "spine query" if spine.is_query else spine.sql
    else:  # pragma: no cover - classify() returns only these
        raise TypeError(spine)
    schema = _schema_of(wh, f"select * from {quote(_RAW)}")
    schema = schema.remove(schema.get_field_index(ROW_ID))
    return StagedSpine(schema, label)


def normalize_spine(wh: Any, staged: StagedSpine, timestamp_column: str) -> None:
    """Create the ``__fw_spine`` view: the caller's columns, row id, and the UTC event time."""
    family = arrow_family(staged.schema.field(timestamp_column).type)
    expr = utc_timestamp_sql(timestamp_column, family)
    wh.execute(
        f"create or replace temp view {quote(SPINE_VIEW)} as "
        f"select *, {expr} as {quote(EVENT_TS)} from {quote(_RAW)}"
    )
