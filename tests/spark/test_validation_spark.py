"""Validation on Spark: the generated suite fails a bad table with exact unexpected counts,
computed on the server by Great Expectations' Spark engine over Spark Connect DataFrames
(no table is pulled to the client). The same rows and counts as
tests/dbt/test_validation_bad_rows.py on DuckDB and PostgreSQL.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))  # test_validation_bad_rows

import test_validation_bad_rows as bad_rows  # noqa: E402

pytestmark = pytest.mark.spark


def test_bad_rows_fail_with_their_counts_on_spark(spark_remote, spark_schema):
    from featurewarehouse.offline.spark import SparkWarehouse

    with SparkWarehouse(spark_remote, schema=spark_schema) as wh:
        for sql in bad_rows._tables("double", f"{spark_schema}."):
            wh.execute(sql)
        try:
            bad, good = bad_rows._failures((spark_remote, {"schema": spark_schema}, "spark"), spark_schema)
        finally:
            wh.execute(f"drop schema if exists {spark_schema} cascade")
    assert bad == bad_rows.EXPECTED_FAILURES
    assert good == []  # restatements (same key and time, another created timestamp) pass
