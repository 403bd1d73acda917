"""The Spark engine's pure parts: where fwctl finds the server, the engine map, GX's Spark type names."""
from __future__ import annotations

import pytest

from featurewarehouse.errors import ConfigError
from featurewarehouse.offline.warehouse import ENGINES, Target, engine_class


def test_spark_remote_prefers_the_target_then_the_environment(monkeypatch):
    from featurewarehouse.offline.spark import DEFAULT_REMOTE, spark_remote

    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert spark_remote({}) == DEFAULT_REMOTE
    monkeypatch.setenv("SPARK_REMOTE", "sc://env:1")
    assert spark_remote({}) == "sc://env:1"
    assert spark_remote({"server_side_parameters": {"spark.remote": "sc://profile:2"}}) == "sc://profile:2"


def test_engine_map_names_each_engine_and_rejects_others():
    assert set(ENGINES) == {"duckdb", "postgres", "spark"}
    assert engine_class(Target("s", "spark", {})).dialect == "spark"
    assert engine_class(Target("d", "duckdb", {})).READS_PARQUET_SOURCES
    assert not engine_class(Target("s", "spark", {})).READS_PARQUET_SOURCES
    with pytest.raises(ConfigError, match="does not read 'snowflake'") as err:
        engine_class(Target("prod", "snowflake", {}))
    assert "duckdb, postgres, spark" in err.value.hint


def test_suite_type_names_become_spark_type_classes_of_the_same_family():
    from featurewarehouse.validation.gx_engines import spark_type_names

    assert spark_type_names(["SMALLINT", "INTEGER", "BIGINT", "HUGEINT"]) == [
        "ByteType", "ShortType", "IntegerType", "LongType"]
    assert spark_type_names(["TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE"]) == ["TimestampType", "TimestampNTZType"]
    assert spark_type_names(["DOUBLE_PRECISION", "DOUBLE PRECISION", "REAL"]) == ["FloatType", "DoubleType"]
    assert spark_type_names(["JSON"]) == ["JSON"]  # no family: left as written (GX then reports it)
