"""Run expectation suites in the warehouse through Great Expectations' SQL engine.

This is the only module that imports ``great_expectations``. Every metric is a
SQL query GX renders with SQLAlchemy and the warehouse executes: the tables
are never pulled into pandas.

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

import datetime as _dt
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ConfigError, FwError, ServiceUnavailable
from featurewarehouse.validation.results import ExpectationOutcome, ModelValidation

# Suite parameters the generator writes for freshness: the runner fills them in
# with "now minus N seconds" (UTC) at run time, so a suite file never goes stale.
FRESHNESS_PARAMETER = re.compile(r"^fw_fresh_after_(\d+)s$")
# the plausible-timestamp range of validation/suites.py: epoch + N seconds, and now + N seconds
TIME_PARAMETER = re.compile(r"^fw_(epoch|now)_plus_(-?\d+)s$")
SAMPLE_SIZE = 5
DOCS_SITE = "fw_local"


@dataclass(frozen=True)
class SuiteJob:
    """One suite to run: the model, where its relation is, and the suite JSON."""

    model: str
    schema: str
    table: str
    relation: str
    suite: dict[str, Any]
    suite_path: str


@dataclass(frozen=True)
class RunOutput:
    results: tuple[ModelValidation, ...]
    docs_index: Path | None


def freshness_parameters(suite: dict[str, Any], now: _dt.datetime) -> dict[str, Any]:
    """Values for the ``fw_fresh_after_<N>s``, ``fw_epoch_plus_<N>s`` and ``fw_now_plus_<N>s``
    parameters a suite uses (naive UTC).

    >>> freshness_parameters({"expectations": [{"kwargs": {"min_value": {"$PARAMETER": "fw_fresh_after_60s"}}}]},
    ...                      _dt.datetime(2024, 1, 1, 0, 1))
    {'fw_fresh_after_60s': datetime.datetime(2024, 1, 1, 0, 0)}
    """
    out: dict[str, Any] = {}
    for exp in suite.get("expectations") or []:
        for value in (exp.get("kwargs") or {}).values():
            if isinstance(value, dict) and isinstance(value.get("$PARAMETER"), str):
                m = FRESHNESS_PARAMETER.match(value["$PARAMETER"])
                if m:
                    out[value["$PARAMETER"]] = now - _dt.timedelta(seconds=int(m[1]))
                t = TIME_PARAMETER.match(value["$PARAMETER"])
                if t:
                    base = now if t[1] == "now" else _dt.datetime(1970, 1, 1)
                    out[value["$PARAMETER"]] = base + _dt.timedelta(seconds=int(t[2]))
    return out


# ---------------------------------------------------------------- engines


DEFAULT_DUCKDB_MEMORY = "256MB"


def _duckdb_config() -> dict[str, str]:
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


def _duckdb_creator(path: str) -> Callable[[], Any]:
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
                con = duckdb.connect(path, read_only=True, config=_duckdb_config())
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


def duckdb_regex(pattern: str) -> str:
    """A pattern DuckDB's full-match ``~`` reads as PostgreSQL's search ``~`` does.

    >>> duckdb_regex("^c[0-9]")
    '(?s).*(?:^c[0-9]).*'
    """
    return f"(?s).*(?:{pattern}).*"


def warehouse_connection(config: ProjectConfig) -> tuple[str, dict[str, Any], str]:
    """(SQLAlchemy URL, create_engine kwargs, dialect) for the configured dbt target."""
    from featurewarehouse.offline.warehouse import duckdb_path, postgres_uri, read_target

    target = read_target(config)
    if target.type == "duckdb":
        path = duckdb_path(config, target)
        if not path.is_file():
            raise ServiceUnavailable(
                f"the DuckDB warehouse {path} does not exist",
                hint="build the models first: `dbt build` (or `fwctl demo`)",
            )
        return f"duckdb:///{path}", {"creator": _duckdb_creator(str(path))}, "duckdb"
    if target.type == "postgres":
        uri = postgres_uri(target.settings).replace("postgresql://", "postgresql+psycopg2://", 1)
        return uri, {}, "postgres"
    if target.type == "spark":  # GX's Spark engine over Spark Connect DataFrames: the URL is sc://...
        from featurewarehouse.offline.spark import spark_remote

        return spark_remote(target.settings), {"schema": target.schema}, "spark"
    raise ConfigError(
        f"fwctl validate does not run on {target.type!r} warehouses yet",
        where=f"profiles.yml: {target.name}",
        hint="validation supports the duckdb, postgres and spark targets",
    )


# ---------------------------------------------------------------- running


def _quiet_gx_info() -> None:
    """Keep GX's housekeeping INFO lines off the terminal; its warnings and errors still show.

    dbt imports snowplow_tracker, whose import calls ``logging.basicConfig()``: the
    root logger then prints INFO records of any logger whose level allows them.
    GX's ``data_context.types.base`` sets its own logger to INFO at import (it logs
    "Created temporary directory ... for ephemeral docs site" per context), which
    beats a level on the ``great_expectations`` parent; such loggers inherit it again.
    """
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if (name.startswith("great_expectations.") and isinstance(logger, logging.Logger)
                and logging.NOTSET < logger.level < logging.WARNING):
            logger.setLevel(logging.NOTSET)


def _context(docs_dir: Path | None):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx_info()

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            },
        )
    return context


def run_suites(
    config: ProjectConfig | None,
    jobs: Iterable[SuiteJob],
    *,
    docs_dir: Path | None = None,
    now: _dt.datetime | None = None,
    on_model: Callable[[str], None] | None = None,
    connection: tuple[str, dict[str, Any], str] | None = None,
) -> RunOutput:
    """Run each job's suite against its relation; build Data Docs into ``docs_dir``.

    A model whose relation is missing or whose suite GX rejects gets a
    :class:`ModelValidation` with ``error`` set; the other models still run.
    ``connection`` overrides the target's (URL, engine kwargs, dialect): tests use it.
    """
    if connection is None:
        if config is None:
            raise ConfigError("run_suites needs a project config or a connection")
        connection = warehouse_connection(config)
    url, engine_kwargs, dialect = connection
    now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    context = _context(docs_dir)
    spark = None
    try:
        if dialect == "spark":
            # GX's Spark engine computes every metric as DataFrame operations on the server
            # (Spark Connect); the runner hands it each model's table as a DataFrame.
            from featurewarehouse.offline.spark import SparkWarehouse

            spark = SparkWarehouse(url, schema=engine_kwargs.get("schema"))
            # persist=False: no cached copy of each table on the server. GX runs query
            # expectations (unexpected_rows) on the engine's session, which must be the
            # DataFrames' own (their temp views are per session) and never a new local one.
            datasource = context.data_sources.add_spark(name="warehouse", persist=False)
            datasource._spark = spark.spark
        else:
            datasource = context.data_sources.add_sql(name="warehouse", connection_string=url, kwargs=engine_kwargs)
        if dialect == "duckdb":
            _fit_duckdb(datasource.get_execution_engine())
        elif dialect == "postgres":
            _fit_postgres(datasource.get_execution_engine())
    except FwError:
        raise
    except Exception as exc:  # GX wraps driver errors in its own types
        raise ServiceUnavailable(f"cannot connect Great Expectations to the warehouse: {_first_line(exc)}") from exc

    results: list[ModelValidation] = []
    try:
        for job in jobs:
            if on_model:
                on_model(job.model)
            results.append(_run_one(context, datasource, job, now, dialect, store=docs_dir is not None,
                                    keep=_kept_dir(docs_dir) if docs_dir is not None else None,
                                    dataframe_of=(lambda j: spark.spark.table(j.relation)) if spark else None))
    finally:
        if spark is not None:
            spark.close()
        else:
            datasource.get_execution_engine().engine.dispose()
        close_all = getattr(engine_kwargs.get("creator"), "close_all", None)
        if close_all is not None:  # DuckDB: what the pool did not hold
            close_all()

    docs_index = None
    if docs_dir is not None and results:
        _restore_kept(context, _kept_dir(docs_dir), skip={job.model for job in jobs})
        context.build_data_docs(site_names=[DOCS_SITE])
        from featurewarehouse.validation.data_docs import make_offline

        make_offline(docs_dir)
        index = docs_dir / "index.html"
        docs_index = index if index.is_file() else None
    return RunOutput(tuple(results), docs_index)


def _kept_dir(docs_dir: Path) -> Path:
    """Each model's latest suite and GX result, as JSON, beside the site: GX's stores here
    are in memory, so without them a ``--select`` run's site would hold only its own models."""
    return docs_dir.parent / "data_docs_sources"


def _keep_for_docs(keep: Path, model: str, suite: Any, result: Any, batch_id: str, run_time: _dt.datetime) -> None:
    import json

    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema

    from featurewarehouse.files import atomic_write

    data = {"suite": suite.to_json_dict(), "result": ExpectationSuiteValidationResultSchema().dump(result),
            "batch_id": batch_id, "run_time": run_time.isoformat()}
    atomic_write(keep / f"{model}.json", json.dumps(data, default=str))


def _restore_kept(context: Any, keep: Path, skip: set[str]) -> None:
    """Put the kept results of the models this run did not validate back into GX's stores,
    so the site is rebuilt with every model's latest pages. A file GX cannot read is dropped
    (its model's pages return with its next validation)."""
    import json

    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema

    if not keep.is_dir():
        return
    for path in sorted(keep.glob("*.json")):
        if path.stem in skip:
            continue
        try:
            data = json.loads(path.read_text())
            suite = context.suites.add(gx.ExpectationSuite(**data["suite"]))
            result = ExpectationSuiteValidationResultSchema().load(data["result"])
            run_time = _dt.datetime.fromisoformat(data["run_time"])
            _store_for_docs(context, result, suite.name, data["batch_id"], run_time)
        except Exception:  # a file from another GX version: rebuilt on the model's next run
            path.unlink(missing_ok=True)


def _run_one(
    context: Any, datasource: Any, job: SuiteJob, now: _dt.datetime, dialect: str, *, store: bool,
    keep: Path | None = None,
    dataframe_of: Callable[[SuiteJob], Any] | None = None,
) -> ModelValidation:
    """``dataframe_of``: the model's table as a DataFrame, for GX's DataFrame engines (Spark)."""
    import great_expectations as gx

    from featurewarehouse.validation import gx_count

    started = time.perf_counter()

    def failed(message: str) -> ModelValidation:
        return ModelValidation(
            job.model, job.relation, job.suite_path, error=message, seconds=time.perf_counter() - started
        )

    try:
        if dataframe_of is None:
            asset = datasource.add_table_asset(name=job.model, table_name=job.table, schema_name=job.schema)
            batch_parameters = None
            whole = asset.add_batch_definition_whole_table("whole_table")
        else:
            frame = dataframe_of(job)
            frame.schema  # resolves the table now: a missing one fails here, not mid-validation  # noqa: B018
            asset = datasource.add_dataframe_asset(name=job.model)
            batch_parameters = {"dataframe": frame}
            whole = asset.add_batch_definition_whole_dataframe("whole_table")
    except Exception as exc:
        return failed(f"relation {job.relation} cannot be read: {_first_line(exc)}")
    gx_suite = _suite_for_gx(job.suite, job.model, dialect)
    try:
        suite = gx.ExpectationSuite(**gx_suite)  # as written, for results and Data Docs
        if store:
            suite = context.suites.add(suite)
        verdicts = gx.ExpectationSuite(**{**gx_suite, "expectations": _count_only(gx_suite["expectations"])})
    except Exception as exc:
        return failed(f"Great Expectations rejects the suite {job.suite_path}: {_first_line(exc)}")
    params = freshness_parameters(job.suite, now) or None
    try:
        batch = whole.get_batch(batch_parameters=batch_parameters)
        # Pass 1, verdicts only: GX bundles the aggregate metrics of a table into
        # one query and skips the per-expectation "fetch unexpected rows"
        # queries, each of which scans the table even when nothing is wrong;
        # unexpected-rows checks only count their rows (gx_count).
        result = batch.validate(verdicts, result_format={"result_format": "BOOLEAN_ONLY"}, expectation_parameters=params)
        by_index = {_index(r, i): r for i, r in enumerate(result.results)}
        for i, r in by_index.items():  # report the count-only form under the suite's own type
            if r.expectation_config.type == gx_count.COUNT_TYPE:
                r.expectation_config = suite.expectations[i].configuration
        failing = sorted(i for i, r in by_index.items() if not r.success)
        exps = gx_suite["expectations"]
        failing = [i for i in failing if i < len(exps)]
        # Pass 2, only what failed: unexpected counts, sample values, observed values.
        # unexpected_rows_expectation returns its rows only in COMPLETE, which for
        # column expectations would fetch every unexpected value: two suites.
        rows_kind = [i for i in failing if exps[i]["type"] == "unexpected_rows_expectation"]
        column_kind = [i for i in failing if i not in rows_kind]
        for part, indexes, result_format in (
            ("failed", column_kind, {"result_format": "BASIC", "partial_unexpected_count": SAMPLE_SIZE}),
            ("failed_rows", rows_kind, {"result_format": "COMPLETE"}),
        ):
            if not indexes:
                continue
            details = gx.ExpectationSuite(
                name=f"{job.model}__{part}", meta=gx_suite["meta"], expectations=[exps[i] for i in indexes]
            )
            detailed = batch.validate(details, result_format=result_format, expectation_parameters=params)
            for r in detailed.results:
                by_index[_index(r, -1)] = r
    except Exception as exc:
        return failed(f"validation could not run: {_first_line(exc)}")
    originals = list(job.suite.get("expectations") or [])
    merged = [by_index[i] for i in sorted(by_index)]
    for r in merged:
        r.success = bool(r.success)  # some GX expectations return numpy.bool, which its own store cannot save
    result.results = merged
    result.success = all(r.success for r in merged)
    outcomes = tuple(
        _outcome(r, originals[i] if i < len(originals) else None) for i, r in zip(sorted(by_index), merged)
    )
    if store:
        _store_for_docs(context, result, suite.name, batch.id, now)
        if keep is not None:
            _keep_for_docs(keep, job.model, suite, result, batch.id, now)
    return ModelValidation(
        job.model, job.relation, job.suite_path, outcomes=outcomes, seconds=time.perf_counter() - started
    )


def _count_only(expectations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The verdict pass's expectations: unexpected-rows checks count their rows and fetch none."""
    from featurewarehouse.validation import gx_count

    return [
        {**e, "type": gx_count.COUNT_TYPE} if e.get("type") == gx_count.ORIGINAL_TYPE else e
        for e in expectations
    ]


def _index(item: Any, default: int) -> int:
    """An expectation's position in its suite file, from a result or a configuration."""
    config = getattr(item, "expectation_config", item)
    index = (config.meta or {}).get("fw_index")
    return index if isinstance(index, int) else default


def _store_for_docs(context: Any, result: Any, suite_name: str, batch_id: str, now: _dt.datetime) -> None:
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    result.success = bool(result.success)
    run_id = RunIdentifier(run_name="fwctl validate", run_time=now.replace(tzinfo=_dt.timezone.utc))
    result.meta["run_id"] = run_id
    result.meta["validation_time"] = run_id.run_time
    suite_id = ExpectationSuiteIdentifier(name=suite_name)
    context.validation_results_store.store_validation_results(
        suite_validation_result=result,
        suite_validation_result_identifier=ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=batch_id
        ),
        expectation_suite_identifier=suite_id,
    )


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


_REGEX_TYPES = ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex")


def _suite_for_gx(suite: dict[str, Any], model: str, dialect: str = "") -> dict[str, Any]:
    """The suite as GX should see it: store ids dropped, positions kept in meta, DuckDB regexes adapted."""
    expectations = []
    for i, exp in enumerate(suite.get("expectations") or []):
        exp = {k: v for k, v in exp.items() if k != "id"}  # ids belong to a GX store; ours is ephemeral
        exp["meta"] = {**(exp.get("meta") or {}), "fw_index": i}
        if dialect == "duckdb" and exp.get("type") in _REGEX_TYPES and "regex" in (exp.get("kwargs") or {}):
            exp["kwargs"] = {**exp["kwargs"], "regex": duckdb_regex(exp["kwargs"]["regex"])}
        if dialect == "spark" and "type_list" in (exp.get("kwargs") or {}):
            exp["kwargs"] = {**exp["kwargs"], "type_list": spark_type_names(exp["kwargs"]["type_list"])}
        expectations.append(exp)
    return {
        "name": model,  # one suite per model in our ephemeral store, whatever the file says
        "expectations": expectations,
        "meta": suite.get("meta") or {},
        "notes": suite.get("notes"),
    }


def _first_line(exc: BaseException) -> str:
    from featurewarehouse.errors import redact

    text = str(exc).strip() or type(exc).__name__
    return redact(text.splitlines()[0][:500])


def _outcome(result: Any, original: dict[str, Any] | None) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = {k: v for k, v in (config.kwargs or {}).items() if k not in ("batch_id", "result_format")}
    if original is not None:  # the suite file's kwargs, before any engine adaptation
        kwargs = dict(original.get("kwargs") or {})
    details = result.result or {}
    exception = None
    info = result.exception_info or {}
    if info.get("raised_exception"):
        exception = info.get("exception_message")
    else:  # one entry per metric when several failed
        for value in info.values():
            if isinstance(value, dict) and value.get("raised_exception"):
                exception = value.get("exception_message")
                break
    observed = details.get("observed_value")
    unexpected = details.get("unexpected_count")
    samples = list(details.get("partial_unexpected_list") or ())
    if config.type == "unexpected_rows_expectation":  # its observed value is the unexpected row count
        unexpected = observed if isinstance(observed, int) else None
        rows = (details.get("details") or {}).get("unexpected_rows")
        samples = list(rows)[:SAMPLE_SIZE] if isinstance(rows, (list, tuple)) else []
    label = ((original or {}).get("meta") or {}).get("fw_label")
    return ExpectationOutcome(
        type=config.type,
        kwargs=_jsonable(kwargs),
        success=bool(result.success),
        generated=bool((config.meta or {}).get("fw_generated")),
        column=kwargs.get("column"),
        unexpected_count=unexpected,
        unexpected_percent=details.get("unexpected_percent"),
        element_count=details.get("element_count"),
        sample_values=tuple(_jsonable(v) for v in samples[:SAMPLE_SIZE]),
        observed_value=_jsonable(observed),
        exception=_first_line(Exception(exception)) if exception else None,
        name=label if isinstance(label, str) else None,
    )


def _jsonable(value: Any) -> Any:
    import decimal

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value
