"""Bad warehouse rows (issue 20) fail the generated suite of a feature view, with exact counts.

NULL keys and timestamps were dropped from sync and point-in-time joins with no
count, and rows stamped 2999 were invisible online and in training, while
`fwctl validate` exited 0. A view with a created timestamp may hold
restatements (same keys and event time), which must not fail the key check
(issue 17). Run in the warehouse through GX's SQL engine (the DuckDB cursor
fix of docs/decisions/0005-gx-on-duckdb.md), on DuckDB and PostgreSQL.
"""
from __future__ import annotations

import datetime as dt

import pytest

from featurewarehouse.contract.meta import timestamp_range
from featurewarehouse.validation.gx_duckdb import duckdb_creator
from featurewarehouse.validation.runner import SuiteJob, run_suites
from featurewarehouse.validation.suites import ColumnSpec, ModelSpec, generate_expectations

NOW = dt.datetime(2024, 6, 1, 0, 0)

SPEC = ModelSpec(
    name="v", schema="", table="", relation="v", kind="feature_view",
    columns=(ColumnSpec("customer_id", "bigint"), ColumnSpec("event_ts", "timestamp"),
             ColumnSpec("loaded_at", "timestamp"), ColumnSpec("amount", "double", feature=True)),
    key_columns=("customer_id",), timestamp="event_ts", created_timestamp="loaded_at",
    timestamp_range=timestamp_range(None, {"min": "2000-01-01"}, "v.yml"),
)

ROWS = [  # customer_id, event_ts, loaded_at, amount
    (1, "2024-05-01 00:00:00", "2024-05-01 01:00:00", 1.0),
    (1, "2024-05-01 00:00:00", "2024-05-02 01:00:00", 2.0),   # a restatement: same key and time, later load
    (2, "2024-05-01 00:00:00", "2024-05-01 01:00:00", 3.0),
    (2, "2024-05-01 00:00:00", "2024-05-01 01:00:00", 3.0),   # a true duplicate: 2 unexpected rows
    (None, "2024-05-01 00:00:00", "2024-05-01 01:00:00", 4.0),  # NULL key
    (3, None, "2024-05-01 01:00:00", 5.0),                    # NULL timestamp
    (4, None, "2024-05-01 01:00:00", 5.0),                    # NULL timestamp
    (5, "2999-01-01 00:00:00", "2024-05-01 01:00:00", 6.0),   # far future
    (6, "1999-12-31 23:59:59", "2024-05-01 01:00:00", 7.0),   # before timestamp_range.min
    (7, "2024-06-01 12:00:00", "2024-05-01 01:00:00", 8.0),   # 12 h ahead: within max_ahead (1d)
]

EXPECTED_FAILURES = {
    "expect_column_values_to_not_be_null(customer_id)": 1,
    "expect_column_values_to_not_be_null(event_ts)": 2,
    "expect_column_values_to_be_between(event_ts)": 2,
    "unique_key(customer_id, event_ts, loaded_at)": 2,
}


def _create_sql(table: str, rows, double: str) -> str:
    def lit(v):
        return "null" if v is None else f"'{v}'" if isinstance(v, str) else repr(v)

    values = ", ".join("(" + ", ".join(lit(v) for v in r) + ")" for r in rows)
    return (f"create table {table} as select cast(c as bigint) as customer_id, cast(t as timestamp) as event_ts, "
            f"cast(l as timestamp) as loaded_at, cast(a as {double}) as amount from (values {values}) as x(c, t, l, a)")


def _failures(connection, schema: str) -> dict:
    suite = {"name": "v", "expectations": generate_expectations(SPEC), "meta": {}}
    jobs = [SuiteJob(t, schema, t, t, suite, "expectations/v.json") for t in ("bad", "good")]
    out = run_suites(None, jobs, connection=connection, now=NOW)
    by_model = {r.model: r for r in out.results}
    for r in by_model.values():
        assert r.error is None, r.error
    bad = {o.label: o.unexpected_count for o in by_model["bad"].outcomes if not o.success}
    good = [o.label for o in by_model["good"].outcomes if not o.success]
    return bad, good


def _tables(double: str, prefix: str = "") -> list[str]:
    good = [r for r in ROWS if r[0] is not None and r[1] is not None and r[1][:4] in ("2024",) and r[0] != 2]
    return [_create_sql(f"{prefix}bad", ROWS, double), _create_sql(f"{prefix}good", good, double)]


def test_bad_rows_fail_with_their_counts_on_duckdb(tmp_path):
    import duckdb

    path = str(tmp_path / "wh.duckdb")
    con = duckdb.connect(path)
    for sql in _tables("double"):
        con.execute(sql)
    con.close()
    bad, good = _failures((f"duckdb:///{path}", {"creator": duckdb_creator(path)}, "duckdb"), "main")
    assert bad == EXPECTED_FAILURES
    assert good == []  # restatements (same key and time, another created timestamp) pass


@pytest.mark.postgres
def test_bad_rows_fail_with_their_counts_on_postgres(postgres_uri, pg_schema):
    import adbc_driver_postgresql.dbapi as adbc

    con = adbc.connect(postgres_uri, autocommit=True)
    with con.cursor() as cur:
        for sql in _tables("double precision", f'"{pg_schema}".'):
            cur.execute(sql)
    con.close()
    url = postgres_uri.replace("postgresql://", "postgresql+psycopg2://", 1)
    bad, good = _failures((url, {}, "postgres"), pg_schema)
    assert bad == EXPECTED_FAILURES
    assert good == []
