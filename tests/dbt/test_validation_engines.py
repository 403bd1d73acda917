"""Generated expectations run in the warehouse through GX's SQL engine, on DuckDB and PostgreSQL.

For every expectation type the generator writes, a table that passes and one
that fails with the exact unexpected counts. The DuckDB cases fail without the
runner's cursor fix (every expectation "fails" with no counts), see
test_duckdb_engine_trap_is_fixed.
"""
from __future__ import annotations

import datetime as dt

import pytest

from featurewarehouse.validation.gx_duckdb import duckdb_creator
from featurewarehouse.validation.runner import SuiteJob, run_suites
from featurewarehouse.validation.suites import ColumnSpec, ModelSpec, generate_expectations

NOW = dt.datetime(2024, 6, 1, 0, 0)

SPEC = ModelSpec(
    name="t",
    schema="",
    table="",
    relation="t",
    kind="feature_view",
    columns=(
        ColumnSpec("customer_id", "bigint"),
        ColumnSpec("event_ts", "timestamp"),
        ColumnSpec(
            "amount", "double",
            {"not_null": True, "min": 0, "max": 100, "mean": {"min": 10, "max": 60}, "quantiles": {0.5: [5, 80]}},
            feature=True,
        ),
        ColumnSpec("status", "varchar", {"accepted_values": ["ok", "review"], "regex": "^[a-z]+$"}, feature=True),
        ColumnSpec("txn_id", "bigint", {"unique": True}),
    ),
    key_columns=("customer_id",),
    timestamp="event_ts",
    max_age_seconds=86400,
)

GOOD_ROWS = [
    (i % 3 + 1, f"2024-05-31 12:{i:02d}:00", 5.0 + 10 * i, "ok" if i % 2 == 0 else "review", i) for i in range(10)
]
BAD_ROWS = [
    (1, "2024-05-01 00:00:00", None, "ok", 1),
    (1, "2024-05-01 00:00:00", None, "ok", 1),
    (2, "2024-05-01 00:01:00", -1.0, "BAD", 2),
    (2, "2024-05-01 00:02:00", 150.0, "BAD", 2),
    (3, "2024-05-01 00:03:00", 200.0, "nope", 2),
    (3, "2024-05-01 00:04:00", 95.0, "ok", 5),
    (1, "2024-05-01 00:05:00", 95.0, "ok", 6),
    (2, "2024-05-01 00:06:00", 95.0, "ok", 7),
    (3, "2024-05-01 00:07:00", 95.0, "ok", 8),
    (1, "2024-05-01 00:08:00", 95.0, "review", 9),
]


def _values(rows) -> str:
    def lit(v):
        if v is None:
            return "null"
        if isinstance(v, str):
            return f"'{v}'"
        return repr(v)

    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def _create_sql(qualified: str, rows, *, double: str) -> str:
    return (
        f"create table {qualified} as select cast(customer_id as bigint) as customer_id, "
        f"cast(event_ts as timestamp) as event_ts, cast(amount as {double}) as amount, "
        f"cast(status as varchar) as status, cast(txn_id as bigint) as txn_id "
        f"from (values {_values(rows)}) as v(customer_id, event_ts, amount, status, txn_id)"
    )


def _setup_sql(prefix: str, double: str) -> list[str]:
    return [
        _create_sql(f"{prefix}good", GOOD_ROWS, double=double),
        _create_sql(f"{prefix}bad", BAD_ROWS, double=double),
        # wrong shape: `status` missing, `amount` a string
        f"create table {prefix}shape as select cast(1 as bigint) as customer_id, "
        f"cast('2024-05-31 12:00:00' as timestamp) as event_ts, cast('12.5' as varchar) as amount, "
        f"cast(1 as bigint) as txn_id",
        f"create table {prefix}empty as select * from {prefix}good where 1 = 0",
    ]


def _suite() -> dict:
    return {"name": "t", "expectations": generate_expectations(SPEC), "meta": {}}


def _run(connection, schema: str, tables: list[str], docs_dir=None):
    jobs = [SuiteJob(t, schema, t, t, _suite(), f"expectations/{t}.json") for t in tables]
    compound = {"name": "c", "expectations": [
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["customer_id", "event_ts"]}}]}
    jobs.append(SuiteJob("bad_gx_compound", schema, "bad", "bad", compound, "c.json"))
    out = run_suites(None, jobs, connection=connection, now=NOW, docs_dir=docs_dir)
    return {r.model: r for r in out.results}, out


def _by_label(result) -> dict:
    assert result.error is None, result.error
    return {o.label: o for o in result.outcomes}


def _assert_engine(results) -> None:
    good = _by_label(results["good"])
    assert all(o.success for o in good.values()), [(k, o.exception, o.observed_value) for k, o in good.items() if not o.success]
    expected_types = {
        "expect_table_row_count_to_be_between",
        "expect_column_to_exist",
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_be_unique",
        "expect_column_mean_to_be_between",
        "expect_column_quantile_values_to_be_between",
        "unexpected_rows_expectation",
        "expect_column_max_to_be_between",
    }
    assert {o.type for o in good.values()} == expected_types
    assert all(o.unexpected_count is None for o in good.values())  # passes report verdicts only

    bad = _by_label(results["bad"])
    for label, o in bad.items():
        assert o.exception is None, (label, o.exception)
    counts = {k: o.unexpected_count for k, o in bad.items() if not o.success}
    assert counts == {
        "expect_column_values_to_not_be_null(amount)": 2,
        "expect_column_values_to_be_between(amount)": 3,
        "expect_column_mean_to_be_between(amount)": None,
        "expect_column_quantile_values_to_be_between(amount)": None,
        "expect_column_values_to_be_in_set(status)": 3,
        "expect_column_values_to_match_regex(status)": 2,
        "expect_column_values_to_be_unique(txn_id)": 5,
        "unique_key(customer_id, event_ts)": 2,
        "expect_column_max_to_be_between(event_ts)": None,
    }
    assert sorted(bad["expect_column_values_to_be_between(amount)"].sample_values) == [-1.0, 150.0, 200.0]
    assert sorted(bad["expect_column_values_to_be_in_set(status)"].sample_values) == ["BAD", "BAD", "nope"]
    assert sorted(bad["expect_column_values_to_match_regex(status)"].sample_values) == ["BAD", "BAD"]
    assert sorted(bad["expect_column_values_to_be_unique(txn_id)"].sample_values) == [1, 1, 2, 2, 2]
    assert bad["expect_column_mean_to_be_between(amount)"].observed_value == pytest.approx(103.0)
    assert bad["expect_column_quantile_values_to_be_between(amount)"].observed_value["values"] == [95.0]
    assert bad["expect_column_max_to_be_between(event_ts)"].observed_value.startswith("2024-05-01T00:08")
    assert bad["expect_table_row_count_to_be_between"].success
    key = bad["unique_key(customer_id, event_ts)"]
    assert len(key.sample_values) == 2 and "2024-05-01" in str(key.sample_values[0])
    # the same count GX's own compound-uniqueness expectation gives
    assert results["bad_gx_compound"].outcomes[0].unexpected_count == 2

    shape = _by_label(results["shape"])
    failed = {k for k, o in shape.items() if not o.success}
    assert "expect_column_to_exist(status)" in failed
    assert "expect_column_values_to_be_in_type_list(amount)" in failed
    assert "char" in str(shape["expect_column_values_to_be_in_type_list(amount)"].observed_value).lower()
    assert shape["expect_column_values_to_be_in_type_list(txn_id)"].success

    empty = _by_label(results["empty"])
    row_count = empty["expect_table_row_count_to_be_between"]
    assert not row_count.success and row_count.observed_value == 0


def test_generated_expectations_on_duckdb(tmp_path):
    import duckdb

    path = str(tmp_path / "wh.duckdb")
    con = duckdb.connect(path)
    for sql in _setup_sql("", "double"):
        con.execute(sql)
    con.close()
    connection = (f"duckdb:///{path}", {"creator": duckdb_creator(path)}, "duckdb")
    results, out = _run(connection, "main", ["good", "bad", "shape", "empty"], docs_dir=tmp_path / "docs")
    _assert_engine(results)
    assert out.docs_index is not None and out.docs_index.is_file()
    assert "bad" in out.docs_index.read_text()
    # the passing key check (verdict from the count-only form) is on the good table's page
    (good_page,) = (tmp_path / "docs" / "validations" / "good").rglob("*.html")
    assert "The key (customer_id, event_ts) is unique" in good_page.read_text()


@pytest.mark.postgres
def test_generated_expectations_on_postgres(postgres_uri, pg_schema):
    import adbc_driver_postgresql.dbapi as adbc

    con = adbc.connect(postgres_uri, autocommit=True)
    with con.cursor() as cur:
        for sql in _setup_sql(f'"{pg_schema}".', "double precision"):
            cur.execute(sql)
    con.close()
    url = postgres_uri.replace("postgresql://", "postgresql+psycopg2://", 1)
    results, _ = _run((url, {}, "postgres"), pg_schema, ["good", "bad", "shape", "empty"])
    _assert_engine(results)

    # declared types are families: varchar(2) is a varchar, numeric(18,2) a numeric
    con = adbc.connect(postgres_uri, autocommit=True)
    with con.cursor() as cur:
        cur.execute(f'create table "{pg_schema}".sized as select cast(\'DE\' as varchar(2)) as country, '
                    f"cast(1.5 as numeric(18,2)) as price, cast(1 as bigint) as n")
    con.close()
    spec = ModelSpec(name="sized", schema=pg_schema, table="sized", relation="sized", columns=(
        ColumnSpec("country", "varchar"), ColumnSpec("price", "numeric"), ColumnSpec("n", "varchar")))
    suite = {"name": "sized", "expectations": generate_expectations(spec)}
    out = run_suites(None, [SuiteJob("sized", pg_schema, "sized", "sized", suite, "s.json")],
                     connection=(url, {}, "postgres"))
    failed = [o.label for o in out.results[0].outcomes if not o.success]
    assert failed == ["expect_column_values_to_be_in_type_list(n)"]


def test_duckdb_engine_trap_is_fixed(tmp_path):
    """The cause: duckdb-engine's cursor is its connection, so the ROLLBACK that closing
    SQLAlchemy's connection issues wipes the pending result GX fetches afterwards."""
    import duckdb
    import sqlalchemy as sa

    path = str(tmp_path / "trap.duckdb")
    con = duckdb.connect(path)
    con.execute("create table t as select range as x from range(7)")
    con.close()

    def count(engine):
        with engine.connect() as connection:  # what GX's execute_query does
            result = connection.execute(sa.text("select count(*) from t"))
        return result.fetchall()

    plain = sa.create_engine(f"duckdb:///{path}")
    assert count(plain) == []  # the trap: rows gone once the connection closed
    plain.dispose()
    fixed = sa.create_engine(f"duckdb:///{path}", creator=duckdb_creator(path))
    assert count(fixed) == [(7,)]
    fixed.dispose()

    # and through Great Expectations, end to end, with the exact count
    spec = ModelSpec(name="t", schema="main", table="t", relation="t",
                     columns=(ColumnSpec("x", "bigint", {"max": 3}),))
    suite = {"name": "t", "expectations": generate_expectations(spec)}
    out = run_suites(None, [SuiteJob("t", "main", "t", "t", suite, "t.json")],
                     connection=(f"duckdb:///{path}", {"creator": duckdb_creator(path)}, "duckdb"))
    between = {o.label: o for o in out.results[0].outcomes}["expect_column_values_to_be_between(x)"]
    assert not between.success and between.unexpected_count == 3 and between.element_count == 7
    # and it closed what it opened read-only: this process can open the file read-write again
    duckdb.connect(path).close()


def test_missing_relation_is_reported_not_raised(tmp_path):
    import duckdb

    path = str(tmp_path / "wh.duckdb")
    duckdb.connect(path).close()
    out = run_suites(None, [SuiteJob("nope", "main", "nope", '"wh"."main"."nope"', _suite(), "x.json")],
                     connection=(f"duckdb:///{path}", {"creator": duckdb_creator(path)}, "duckdb"))
    (result,) = out.results
    assert not result.success and "cannot be read" in result.error and "nope" in result.error


def _statements(connection, schema: str, table: str) -> list[str]:
    """Every SQL statement GX sends while validating ``table`` with the generated suite."""
    import sqlalchemy as sa

    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        out = run_suites(None, [SuiteJob(table, schema, table, table, _suite(), "t.json")],
                         connection=connection, now=NOW)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert out.results[0].error is None, out.results[0].error
    return seen


def _assert_key_check_runs_once_when_it_passes(statements: list[str]) -> None:
    # GX's own unexpected_rows_expectation runs its query twice (rows, then their count);
    # the verdict pass only counts, and a pass needs nothing more
    key_queries = [s for s in statements if "having count(*) > 1" in s]
    assert len(key_queries) == 1, key_queries
    assert key_queries[0].startswith("SELECT COUNT(*)")


def test_key_check_is_one_count_query_on_duckdb(tmp_path):
    import duckdb

    path = str(tmp_path / "wh.duckdb")
    con = duckdb.connect(path)
    con.execute(_create_sql("good", GOOD_ROWS, double="double"))
    con.close()
    connection = (f"duckdb:///{path}", {"creator": duckdb_creator(path)}, "duckdb")
    _assert_key_check_runs_once_when_it_passes(_statements(connection, "main", "good"))


@pytest.mark.postgres
def test_key_check_is_one_count_query_on_postgres(postgres_uri, pg_schema):
    import adbc_driver_postgresql.dbapi as adbc

    con = adbc.connect(postgres_uri, autocommit=True)
    with con.cursor() as cur:
        cur.execute(_create_sql(f'"{pg_schema}".good', GOOD_ROWS, double="double precision"))
    con.close()
    url = postgres_uri.replace("postgresql://", "postgresql+psycopg2://", 1)
    _assert_key_check_runs_once_when_it_passes(_statements((url, {}, "postgres"), pg_schema, "good"))


def test_data_docs_keep_every_model_across_select_runs_and_render_offline(tmp_path):
    """Issue 17: a `--select` run deleted the other models' pages (29 became 3), and
    pages loaded their CSS/JS from CDNs."""
    import duckdb

    from featurewarehouse.validation.data_docs import OFFLINE_CSS, REMOTE_ASSET

    path = str(tmp_path / "wh.duckdb")
    con = duckdb.connect(path)
    for sql in _setup_sql("", "double"):
        con.execute(sql)
    con.close()
    connection = (f"duckdb:///{path}", {"creator": duckdb_creator(path)}, "duckdb")
    docs = tmp_path / "fw_validation" / "data_docs"
    _run(connection, "main", ["good", "bad"], docs_dir=docs)
    pages = {p.relative_to(docs).parts[:2] for p in docs.rglob("*.html")}
    assert {("validations", "good"), ("validations", "bad"), ("expectations", "good.html")} <= pages
    _run(connection, "main", ["bad"], docs_dir=docs)  # fwctl validate --select bad
    after = list(docs.rglob("*.html"))
    assert {p.relative_to(docs).parts[:2] for p in after} >= {("validations", "good"), ("validations", "bad")}
    index = (docs / "index.html").read_text()
    assert "good" in index and "bad" in index
    for page in after:
        text = page.read_text()
        assert not REMOTE_ASSET.search(text), f"{page} still loads a remote asset"
        assert f"static/styles/{OFFLINE_CSS}" in text
    assert (docs / "static" / "styles" / OFFLINE_CSS).is_file()
