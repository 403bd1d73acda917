"""Run expectation suites in the warehouse through Great Expectations.

Every metric is computed by the warehouse (SQL that GX renders with SQLAlchemy, or
DataFrame operations on a Spark server): the tables are never pulled into pandas.
How GX reads each engine is ``gx_engines.py`` (DuckDB's fixes: ``gx_duckdb.py``); the
context and Data Docs are ``gx_docs.py``. Each suite runs in two passes: verdicts only
(one bundled query per table), then details for what failed.
"""
from __future__ import annotations

import datetime as _dt
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ConfigError, FwError, ServiceUnavailable
from featurewarehouse.validation.gx_docs import DOCS_SITE, gx_context, keep_for_docs, kept_dir, restore_kept, store_for_docs
from featurewarehouse.validation.gx_engines import GxEngine, gx_engine
from featurewarehouse.validation.results import ExpectationOutcome, ModelValidation

# Suite parameters the generator writes for freshness: the runner fills them in
# with "now minus N seconds" (UTC) at run time, so a suite file never goes stale.
FRESHNESS_PARAMETER = re.compile(r"^fw_fresh_after_(\d+)s$")
# the plausible-timestamp range of validation/suites.py: epoch + N seconds, and now + N seconds
TIME_PARAMETER = re.compile(r"^fw_(epoch|now)_plus_(-?\d+)s$")
SAMPLE_SIZE = 5


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


def warehouse_connection(config: ProjectConfig) -> tuple[str, dict[str, Any], str]:
    """(URL, engine kwargs, engine name) for the configured dbt target: its warehouse class's."""
    from featurewarehouse.offline.warehouse import engine_class, read_target

    target = read_target(config)
    url, kwargs = engine_class(target).validation_connection(config, target)
    return url, kwargs, target.type


# ---------------------------------------------------------------- running


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
    context = gx_context(docs_dir)
    engine = gx_engine(dialect, url, engine_kwargs)
    try:
        datasource = engine.datasource(context)
    except FwError:
        raise
    except Exception as exc:  # GX wraps driver errors in its own types
        raise ServiceUnavailable(f"cannot connect Great Expectations to the warehouse: {_first_line(exc)}") from exc

    results: list[ModelValidation] = []
    try:
        for job in jobs:
            if on_model:
                on_model(job.model)
            results.append(_run_one(context, datasource, job, now, engine, store=docs_dir is not None,
                                    keep=kept_dir(docs_dir) if docs_dir is not None else None))
    finally:
        engine.close(datasource)

    docs_index = None
    if docs_dir is not None and results:
        restore_kept(context, kept_dir(docs_dir), skip={job.model for job in jobs})
        context.build_data_docs(site_names=[DOCS_SITE])
        from featurewarehouse.validation.data_docs import make_offline

        make_offline(docs_dir)
        index = docs_dir / "index.html"
        docs_index = index if index.is_file() else None
    return RunOutput(tuple(results), docs_index)


def _run_one(
    context: Any, datasource: Any, job: SuiteJob, now: _dt.datetime, engine: GxEngine, *, store: bool,
    keep: Path | None = None,
) -> ModelValidation:
    import great_expectations as gx

    from featurewarehouse.validation import gx_count

    started = time.perf_counter()

    def failed(message: str) -> ModelValidation:
        return ModelValidation(
            job.model, job.relation, job.suite_path, error=message, seconds=time.perf_counter() - started
        )

    try:
        frame = engine.dataframe_of(job.relation)  # None: GX's SQL engine reads the table by name
        if frame is None:
            asset = datasource.add_table_asset(name=job.model, table_name=job.table, schema_name=job.schema)
            batch_parameters = None
            whole = asset.add_batch_definition_whole_table("whole_table")
        else:
            frame.schema  # resolves the table now: a missing one fails here, not mid-validation  # noqa: B018
            asset = datasource.add_dataframe_asset(name=job.model)
            batch_parameters = {"dataframe": frame}
            whole = asset.add_batch_definition_whole_dataframe("whole_table")
    except Exception as exc:
        return failed(f"relation {job.relation} cannot be read: {_first_line(exc)}")
    gx_suite = _suite_for_gx(job.suite, job.model, engine)
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
        store_for_docs(context, result, suite.name, batch.id, now)
        if keep is not None:
            keep_for_docs(keep, job.model, suite, result, batch.id, now)
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


def _suite_for_gx(suite: dict[str, Any], model: str, engine: GxEngine) -> dict[str, Any]:
    """The suite as GX should see it: store ids dropped, positions kept in meta, adapted to the engine."""
    expectations = []
    for i, exp in enumerate(suite.get("expectations") or []):
        exp = {k: v for k, v in exp.items() if k != "id"}  # ids belong to a GX store; ours is ephemeral
        exp["meta"] = {**(exp.get("meta") or {}), "fw_index": i}
        expectations.append(engine.adapt(exp))
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
