"""A count-only form of GX's ``unexpected_rows_expectation`` for the verdict pass.

GX's ``unexpected_rows_expectation`` asks for two metrics, even for a
``BOOLEAN_ONLY`` verdict: the query's rows (``unexpected_rows_query.table``)
and their count (``unexpected_rows_query.row_count``). Each runs the whole
query, so a key-uniqueness check pays its hash aggregate over every row twice.
This subclass depends on the count alone (GX's own metric, ``SELECT COUNT(*)
FROM (<query>)``); the runner uses it for the verdict and runs the original
expectation only when the count is not zero, to fetch sample rows.

Importing this module imports Great Expectations and registers the type
``fw_unexpected_rows_count`` in GX's expectation registry (a new name: GX's
own types are left as they are).
"""
from __future__ import annotations

from typing import Any, ClassVar, Tuple

from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation

ORIGINAL_TYPE = "unexpected_rows_expectation"
COUNT_TYPE = "fw_unexpected_rows_count"
ROW_COUNT_METRIC = "unexpected_rows_query.row_count"


class FwUnexpectedRowsCount(UnexpectedRowsExpectation):
    """``unexpected_rows_expectation`` that only counts the unexpected rows."""

    metric_dependencies: ClassVar[Tuple[str, ...]] = (ROW_COUNT_METRIC,)

    def _validate(
        self, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None
    ) -> dict:
        count = int(metrics[ROW_COUNT_METRIC])
        return {"success": count == 0, "result": {"observed_value": count}}


if FwUnexpectedRowsCount.expectation_type != COUNT_TYPE:  # GX derives the type from the class name
    raise RuntimeError(f"GX registered {FwUnexpectedRowsCount.expectation_type!r}, expected {COUNT_TYPE!r}")
