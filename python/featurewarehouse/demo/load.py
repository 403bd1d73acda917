"""Load the demo's raw Parquet into a server warehouse whose dbt sources are tables.

On PostgreSQL and Spark the dbt sources ``raw.*`` and ``fw_logs.feature_log_raw``
are tables in schema ``<target schema>_raw``. Each table streams from its Parquet
file in Arrow batches (ADBC COPY on PostgreSQL, Arrow over Spark Connect), into a
side table that then replaces the old one (``Warehouse.replace_table``): a failed
load leaves the previous data in place.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.demo.generate import TABLES, existing_dataset
from featurewarehouse.errors import ConfigError
from featurewarehouse.serving.log_format import log_schema

BATCH_ROWS = 65_536
FEATURE_LOG_TABLE = "feature_log_raw"


@dataclass(frozen=True)
class LoadResult:
    schema: str
    row_counts: dict[str, int]


def raw_data_dir(config: ProjectConfig) -> Path:
    """Where the demo's raw Parquet lives: vars.fw.raw_data_path (env FW_DATA_DIR), project-relative."""
    path = Path(str(config.fw_vars.get("raw_data_path") or "data/raw"))
    return path if path.is_absolute() else config.project_dir / path


def _replace(wh, schema: str, table: str, reader) -> None:
    """Stream into ``<table>__loading``, then swap it in atomically."""
    loading = f"{table}__loading"
    wh.upload_arrow(loading, reader, temporary=False, schema=schema)
    wh.replace_table(schema, table, loading)


def load_raw_tables(
    config: ProjectConfig,
    data_dir: Path | None = None,
    *,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> LoadResult:
    """Load customers, merchants, transactions, chargebacks and the feature logs.

    ``on_progress(table, rows_done, rows_total)`` is called after each batch.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from featurewarehouse.offline.warehouse import connect, engine_class, read_target

    target = read_target(config)
    if engine_class(target).READS_PARQUET_SOURCES:
        raise ConfigError(
            f"target {target.name!r} is {target.type}: it reads the Parquet files directly, nothing to load",
            hint="pass --target postgres (or spark) to load the raw tables into that warehouse",
        )
    source_dir = Path(data_dir) if data_dir else raw_data_dir(config)
    found = existing_dataset(source_dir)
    if len(found) != len(TABLES):
        raise ConfigError(
            f"no complete demo dataset in {source_dir}",
            hint="generate it first: fwctl demo generate",
        )
    schema = f"{target.schema}_raw"
    counts: dict[str, int] = {}
    with connect(config) as wh:
        wh.execute(f'create schema if not exists "{schema}"')
        for table in TABLES:
            pf = pq.ParquetFile(source_dir / f"{table}.parquet")
            total = pf.metadata.num_rows
            done = 0

            def batches(pf=pf, table=table, total=total):
                nonlocal done
                for batch in pf.iter_batches(batch_size=BATCH_ROWS):
                    yield batch
                    done += batch.num_rows
                    if on_progress:
                        on_progress(table, done, total)

            reader = pa.RecordBatchReader.from_batches(pf.schema_arrow, batches())
            _replace(wh, schema, table, reader)
            counts[table] = total
        counts[FEATURE_LOG_TABLE] = _load_feature_logs(wh, schema, config.feature_log_path)
    return LoadResult(schema, counts)


def _load_feature_logs(wh, schema: str, log_dir: Path) -> int:
    """Replace feature_log_raw with the Parquet logs, or create it empty when there are none."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = sorted(Path(log_dir).glob("*.parquet")) if Path(log_dir).is_dir() else []
    target_schema = log_schema()
    if not files:
        # no logs yet: an empty table of the log's Arrow schema (each engine maps the types), kept if present
        if not wh.relation_exists(f'"{schema}"."{FEATURE_LOG_TABLE}"'):
            wh.upload_arrow(FEATURE_LOG_TABLE, target_schema.empty_table(), temporary=False, schema=schema)
        return 0
    dataset = ds.dataset([str(f) for f in files], format="parquet")
    total = dataset.count_rows()

    def batches():
        for batch in dataset.to_batches(batch_size=BATCH_ROWS):
            cols = []
            for field in target_schema:
                if field.name in batch.schema.names:
                    cols.append(batch.column(field.name).cast(field.type))
                else:
                    cols.append(pa.nulls(batch.num_rows, field.type))
            yield pa.RecordBatch.from_arrays(cols, schema=target_schema)

    _replace(wh, schema, FEATURE_LOG_TABLE, pa.RecordBatchReader.from_batches(target_schema, batches()))
    return total
