"""The SparkWarehouse itself, on the session's Spark Connect server: Arrow in and out, batches
of the asked size in query order, tables replaced all or nothing, missing relations."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

pytestmark = pytest.mark.spark


def test_spark_warehouse_moves_arrow_and_replaces_tables(spark_remote, spark_schema):
    from featurewarehouse.offline.spark import SparkWarehouse

    with SparkWarehouse(spark_remote, schema=spark_schema) as wh:
        try:
            ts = dt.datetime(2024, 1, 1, 12, 0, 0, 123456)
            data = pa.table({"a": pa.array(range(10_000), pa.int64()),
                             "ts": pa.array([ts] * 10_000, pa.timestamp("us")), "s": ["x"] * 10_000})
            rel = wh.upload_arrow("up", data)
            batches = list(wh.stream(f"select * from {rel} order by a desc", batch_rows=3_000))
            assert [b.num_rows for b in batches] == [3_000, 3_000, 3_000, 1_000]
            got = pa.Table.from_batches(batches)
            assert got.schema.field("ts").type == pa.timestamp("us")  # naive UTC, microseconds kept
            assert got.column("a").to_pylist() == list(range(9_999, -1, -1))
            assert got.column("ts")[0].as_py() == ts
            empty = wh.fetch_arrow(f"select * from {rel} where a < 0")
            assert (empty.num_rows, empty.column_names) == (0, ["a", "ts", "s"])

            wh.create_table_as(f'"{spark_schema}"."t"', "select 1 as v")
            wh.create_table_as(f'"{spark_schema}"."t"', "select 2 as v union all select 3")
            with pytest.raises(Exception):  # a failing query leaves the table as it was
                wh.create_table_as(f'"{spark_schema}"."t"', "select no_such_column as v")
            assert sorted(wh.fetch_arrow(f'select v from "{spark_schema}"."t"').column("v").to_pylist()) == [2, 3]
            assert wh.relation_exists(f'"{spark_schema}"."t"')
            assert not wh.relation_exists(f'"{spark_schema}"."nope"')
        finally:
            wh.execute(f"drop schema if exists {spark_schema} cascade")
