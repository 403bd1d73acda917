"""Staging a spine in the warehouse for historical retrieval.

The spine lands as ``__fw_spine_raw`` (the caller's columns plus a row id
assigned on the way in, never by a global ``ROW_NUMBER()``), and the view
``__fw_spine`` adds the UTC-normalized event time the PIT macro joins on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

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
_DATA = "__fw_spine_data"  # a SQL spine, materialized in place


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


def _postgres_ready(table: Any) -> Any:
    """Arrow types Postgres' COPY path cannot take, turned into ones it can (same values)."""
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


def _parquet_batches(files: Sequence[str]) -> Any:
    """A RecordBatchReader over Parquet files, with row ids assigned as batches pass."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = ds.dataset(list(files), format="parquet")
    schema = dataset.schema.append(pa.field(ROW_ID, pa.int64()))

    def gen() -> Iterator[Any]:
        offset = 0
        for batch in dataset.to_batches(batch_size=65_536):
            ids = pa.array(np.arange(offset, offset + batch.num_rows, dtype=np.int64))
            offset += batch.num_rows
            yield pa.RecordBatch.from_arrays([*batch.columns, ids], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, gen())


def stage_spine(wh: Any, spine: SpineInput) -> StagedSpine:
    """Put the spine in the warehouse as ``__fw_spine_raw`` (caller's columns + row id)."""
    raw = quote(_RAW)
    if isinstance(spine, ArrowSpine):
        table = _with_row_ids(spine.table)
        if wh.dialect == "duckdb":
            wh.con.register(_RAW, table)  # zero-copy: DuckDB scans the Arrow buffers in place
        else:
            wh.upload_arrow(_RAW, _postgres_ready(table), temporary=True)
        label = "entity_df"
    elif isinstance(spine, ParquetSpine):
        if wh.dialect == "duckdb":
            wh.execute(f"create or replace temp view {raw} as {_duckdb_parquet_sql(spine.files)}")
        else:
            import pyarrow as pa

            reader = _parquet_batches(spine.files)
            cast_schema = _postgres_ready(pa.Table.from_batches([], reader.schema)).schema
            if cast_schema != reader.schema:
                reader = pa.RecordBatchReader.from_batches(
                    cast_schema, (b.cast(cast_schema, safe=False) for b in reader)
                )
            wh.upload_arrow(_RAW, reader, temporary=True)
        label = spine.label
    elif isinstance(spine, SqlSpine):
        source = f"({spine.sql})" if spine.is_query else spine.sql
        try:
            if wh.dialect == "duckdb":
                # rowid of a freshly filled table is its insertion order, which
                # DuckDB keeps from the query (preserve_insertion_order).
                wh.execute(f"create or replace temp table {quote(_DATA)} as select * from {source} as q")
                wh.execute(f"create or replace temp view {raw} as select *, rowid as {quote(ROW_ID)} from {quote(_DATA)}")
            else:
                # nextval() is parallel-unsafe, so Postgres numbers the rows in the
                # query's output order (after its ORDER BY).
                seq = quote("__fw_spine_seq")
                wh.execute(f"drop sequence if exists {seq}")
                wh.execute(f"create temp sequence {seq}")
                wh.execute(
                    f"create temp table {raw} as select q.*, nextval('{seq[1:-1]}') as {quote(ROW_ID)} "
                    f"from {source} as q"
                )
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
    schema = _schema_of(wh, f"select * from {raw}")
    schema = schema.remove(schema.get_field_index(ROW_ID))
    return StagedSpine(schema, label)


def _duckdb_parquet_sql(files: Sequence[str]) -> str:
    """Scan Parquet in place; row id = offset of the file + row number within it."""
    import pyarrow.parquet as pq

    lit = lambda s: "'" + s.replace("'", "''") + "'"  # noqa: E731
    listing = "[" + ", ".join(lit(f) for f in files) + "]"
    scan = f"read_parquet({listing}, filename=true, file_row_number=true)"
    if len(files) == 1:
        row_id = "file_row_number"
    else:
        offsets, total = [], 0
        for f in files:
            offsets.append(f"when {lit(f)} then {total}")
            total += pq.read_metadata(f).num_rows
        row_id = f"(case filename {' '.join(offsets)} end) + file_row_number"
    return f"select * exclude (filename, file_row_number), {row_id} as {quote(ROW_ID)} from {scan}"


def normalize_spine(wh: Any, staged: StagedSpine, timestamp_column: str) -> None:
    """Create the ``__fw_spine`` view: the caller's columns, row id, and the UTC event time."""
    family = arrow_family(staged.schema.field(timestamp_column).type)
    expr = utc_timestamp_sql(timestamp_column, family)
    wh.execute(
        f"create or replace temp view {quote(SPINE_VIEW)} as "
        f"select *, {expr} as {quote(EVENT_TS)} from {quote(_RAW)}"
    )
