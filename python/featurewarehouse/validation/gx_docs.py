"""The Great Expectations context of a validation run, and its Data Docs.

GX's stores are in memory (an ephemeral context); each model's latest suite and result are
kept as JSON beside the site, so a ``--select`` run rebuilds the site with every model's pages.
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

DOCS_SITE = "fw_local"


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


def gx_context(docs_dir: Path | None):
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


def kept_dir(docs_dir: Path) -> Path:
    """Each model's latest suite and GX result, as JSON, beside the site: GX's stores here
    are in memory, so without them a ``--select`` run's site would hold only its own models."""
    return docs_dir.parent / "data_docs_sources"


def keep_for_docs(keep: Path, model: str, suite: Any, result: Any, batch_id: str, run_time: _dt.datetime) -> None:
    import json

    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema

    from featurewarehouse.files import atomic_write

    data = {"suite": suite.to_json_dict(), "result": ExpectationSuiteValidationResultSchema().dump(result),
            "batch_id": batch_id, "run_time": run_time.isoformat()}
    atomic_write(keep / f"{model}.json", json.dumps(data, default=str))


def restore_kept(context: Any, keep: Path, skip: set[str]) -> None:
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
            store_for_docs(context, result, suite.name, data["batch_id"], run_time)
        except Exception:  # a file from another GX version: rebuilt on the model's next run
            path.unlink(missing_ok=True)


def store_for_docs(context: Any, result: Any, suite_name: str, batch_id: str, now: _dt.datetime) -> None:
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
