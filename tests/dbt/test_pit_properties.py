"""The PIT macros on DuckDB and PostgreSQL equal the brute-force reference, row for row.

dbt builds the fixture project (tests/dbt/project, the real macros/) once per
backend; every hypothesis example then refills the tables and re-executes the
compiled SQL, so a run costs one dbt invocation per backend, not per example.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from pit_project import Built, Runner, build, fill_statements, make_project  # noqa: I001  (tests/dbt on sys.path)
from pit_cases import reference
from pit_cases.cases import CASES, DATE_SPINE_CASE, SPINE_COLUMNS, VIEW_COLUMNS, VIEWS
from pit_cases.strategies import RandomCase, random_case

ALL_VIEWS = ["v_plain", "v_ttl", "v_avail", "v_avail_nottl", "v_pair", "v_merchant"]
EXAMPLES = int(os.environ.get("FW_PIT_EXAMPLES", "60"))  # more for a deeper search, e.g. FW_PIT_EXAMPLES=1000


def load(runner: Runner, built: Built, case: RandomCase) -> None:
    statements = []
    for name in ALL_VIEWS:
        statements += fill_statements(built.relation[name], VIEW_COLUMNS[name], case.rows.get(name, []))
    statements += fill_statements(built.relation["pit_spine"], SPINE_COLUMNS, case.spine)
    statements += fill_statements(built.relation["pit_as_of"], ["as_of"], [{"as_of": case.as_of}])
    runner.execute(statements)


def check_training_set(runner: Runner, built: Built, model: str, timestamp: str, requests, full: bool,
                       case: RandomCase) -> None:
    expected = reference.point_in_time_join(case.spine, timestamp, requests, full_feature_names=full)
    names, got = runner.query(built.sql[model])
    columns = list(expected[0]) if expected else list(SPINE_COLUMNS)
    assert names == columns, f"{model}: output columns"
    assert len(got) == len(case.spine), f"{model}: spine row count not preserved"
    assert reference.canonical(got, columns) == reference.canonical(expected, columns), model


def check_case(runner: Runner, built: Built, case: RandomCase) -> None:
    load(runner, built, case)
    every = [(VIEWS[v], case.rows[v], None) for v in ALL_VIEWS]
    for suffix in ("", "_portable"):
        check_training_set(runner, built, f"pit_all_ts{suffix}", "event_ts", every, True, case)
        check_training_set(runner, built, f"pit_all_day{suffix}", "event_day", every, True, case)
    short = [(VIEWS["v_ttl"], case.rows["v_ttl"], ["f_int"]), (VIEWS["v_pair"], case.rows["v_pair"], ["f_str"])]
    check_training_set(runner, built, "pit_short_names", "event_ts", short, False, case)
    for v in ALL_VIEWS:
        expected = reference.latest_feature_values(VIEWS[v], case.rows[v], case.as_of)
        names, got = runner.query(built.sql[f"latest_{v}"])
        columns = list(dict.fromkeys([*VIEWS[v].keys, "ts", *([VIEWS[v].created] if VIEWS[v].created else []),
                                      *VIEWS[v].features]))
        assert names == columns, f"latest_{v}: output columns"
        assert reference.canonical(got, columns) == reference.canonical(expected, columns), f"latest_{v}"


def shared_case_as_random(case) -> RandomCase:
    rows = {v: [] for v in ALL_VIEWS}
    rows[case.view] = list(case.rows)
    return RandomCase(rows=rows, spine=list(case.spine), as_of=case.spine[0]["event_ts"] or reference.as_timestamp(
        case.spine[0]["event_day"]))


def run_all(runner: Runner, built: Built) -> None:
    # the hand-checked shared cases first: exact expected numbers
    for case in [*CASES, DATE_SPINE_CASE]:
        load(runner, built, shared_case_as_random(case))
        for suffix in ("", "_portable"):
            model = ("pit_all_day" if case is DATE_SPINE_CASE else "pit_all_ts") + suffix
            _, got = runner.query(built.sql[model])
            by_tag = sorted((r["row_tag"], r[f"{case.view}__f_int"]) for r in got)
            assert by_tag == sorted(zip([r["row_tag"] for r in case.spine], case.expected_f_int)), (model, case.name)

    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=random_case())
    def property_(case: RandomCase) -> None:
        check_case(runner, built, case)

    property_()


@pytest.mark.parametrize("formulation", ["asof", "range"])
def test_pit_macros_match_reference_on_duckdb(tmp_path: Path, formulation: str) -> None:
    """Both formulations of the DuckDB body (macros/pit_duckdb_range.sql), forced with vars.fw_pit_formulation
    (the statistics choose between them per view when it is 'auto')."""
    from pit_project import invoke

    project = make_project(tmp_path)
    built = build(project, "dev")
    compiled = invoke(project, ["compile", "--vars", f"{{fw_pit_formulation: {formulation}}}"], "dev")
    assert compiled.success, compiled.exception
    built = Built(project, {**built.sql, **{r.node.name: r.node.compiled_code for r in compiled.result.results}},
                  built.relation)
    # v_ttl and v_merchant have a ttl and no available_timestamp: the views the choice applies to
    assert built.sql["pit_all_ts"].count("fw_bucket = fw_r.fw_bucket") == (2 if formulation == "range" else 0)
    runner = Runner("dev", project)
    try:
        run_all(runner, built)
    finally:
        runner.close()


@pytest.mark.postgres
@pytest.mark.parametrize("formulation", ["auto", "asof"])
def test_pit_macros_match_reference_on_postgres(tmp_path: Path, postgres_uri: str, pg_schema: str,
                                                formulation: str) -> None:
    """The postgres__ body as the statistics choose it on the fixture's few rows (the range join
    for the views with a TTL), and with the timeline forced for them (vars.fw_pit_formulation)."""
    from pit_project import invoke

    project = make_project(tmp_path)
    built = build(project, "postgres", pg_schema)
    if formulation != "auto":
        compiled = invoke(project, ["compile", "--vars", f"{{fw_pit_formulation: {formulation}}}"], "postgres",
                          pg_schema)
        assert compiled.success, compiled.exception
        built = Built(project, {**built.sql, **{r.node.name: r.node.compiled_code for r in compiled.result.results}},
                      built.relation)
    ranged = sum(f"-- {v}: per (keys, t) of the spine, the best" in built.sql["pit_all_ts"] for v in ALL_VIEWS)
    assert ranged == (3 if formulation == "auto" else 0)  # v_ttl, v_avail, v_merchant have a TTL
    runner = Runner("postgres", project, postgres_uri)
    try:
        run_all(runner, built)
    finally:
        runner.close()


def _crowded_and_sparse(built: Built) -> list[str]:
    """v_ttl: 300 rows of one customer within one TTL (12h); v_merchant: 300 merchants of one row
    each; a 300-row spine over both."""
    at = datetime(2024, 1, 1)

    def row(view: str, **values) -> dict:
        return {c: values.get(c) for c in VIEW_COLUMNS[view]}
    crowded = [row("v_ttl", customer_id=1, ts=at + timedelta(seconds=60 * i), f_int=i) for i in range(300)]
    sparse = [row("v_merchant", merchant_id=i, ts=at, f_int=i) for i in range(300)]
    spine = [{"row_tag": i, "customer_id": 1, "merchant_id": i, "event_ts": at + timedelta(hours=6),
              "event_day": None} for i in range(300)]
    return (fill_statements(built.relation["v_ttl"], VIEW_COLUMNS["v_ttl"], crowded)
            + fill_statements(built.relation["v_merchant"], VIEW_COLUMNS["v_merchant"], sparse)
            + fill_statements(built.relation["pit_spine"], SPINE_COLUMNS, spine))


@pytest.mark.parametrize("target", ["dev", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_statistics_choose_a_sort_where_windows_are_crowded(tmp_path: Path, target: str, request) -> None:
    """fw_pit_formulation (macros/pit_formulation.sql): the range join where spine rows x rows per
    window are few (v_merchant), the sort-based formulation where they are many (v_ttl)."""
    from pit_project import invoke

    schema = request.getfixturevalue("pg_schema") if target == "postgres" else None
    project = make_project(tmp_path)
    built = build(project, target, schema)
    runner = Runner(target, project, request.getfixturevalue("postgres_uri") if target == "postgres" else None)
    try:
        runner.execute([f"delete from {built.relation[v]}" for v in ALL_VIEWS] + _crowded_and_sparse(built))
    finally:
        runner.close()
    compiled = invoke(project, ["compile", "--select", "pit_all_ts"], target, schema)
    assert compiled.success, compiled.exception
    sql = compiled.result.results[0].node.compiled_code
    assert "-- v_merchant: per (keys, t) of the spine, the best" in sql
    assert "-- v_ttl: per (keys, t) of the spine, the best" not in sql


@pytest.mark.parametrize("formulation", ["asof", "range"])
def test_nanosecond_view_rows_within_one_microsecond_tie_on_ts(tmp_path: Path, formulation: str) -> None:
    """A TIMESTAMP_NS view column is compared at microseconds (fw_pit_ts): two rows within one
    microsecond tie on ts and the later created wins, in both DuckDB formulations (the range join
    reads its winners back by the normalized ts, not by the raw column)."""
    from pit_project import invoke

    project = make_project(tmp_path)
    built = build(project, "dev")
    v_ttl = built.relation["v_ttl"]
    spine = [{"row_tag": 0, "customer_id": 1, "merchant_id": None, "event_ts": datetime(2024, 1, 1, 1),
              "event_day": None}]
    runner = Runner("dev", project)
    try:
        runner.execute([f"delete from {built.relation[v]}" for v in ALL_VIEWS] + [
            f"delete from {built.relation['pit_spine']}",
            f"alter table {v_ttl} alter column ts set data type timestamp_ns",
            f"insert into {v_ttl} (customer_id, ts, created_at, f_int) values "
            "(1, cast('2024-01-01 00:00:00.000000900' as timestamp_ns), timestamp '2024-01-01 00:00:01', 1), "
            "(1, cast('2024-01-01 00:00:00.000000100' as timestamp_ns), timestamp '2024-01-01 00:00:02', 2)",
        ] + fill_statements(built.relation["pit_spine"], SPINE_COLUMNS, spine))
    finally:
        runner.close()
    compiled = invoke(project, ["compile", "--select", "pit_all_ts", "--vars",
                                f"{{fw_pit_formulation: {formulation}}}"], "dev")
    assert compiled.success, compiled.exception
    sql = compiled.result.results[0].node.compiled_code
    assert ("-- v_ttl: per (keys, t) of the spine, the best" in sql) == (formulation == "range")
    runner = Runner("dev", project)
    try:
        _, rows = runner.query(sql)
    finally:
        runner.close()
    assert [r["v_ttl__f_int"] for r in rows] == [2]


def test_aware_view_timestamps_are_utc_whatever_the_duckdb_session_time_zone(tmp_path: Path) -> None:
    """TIMESTAMP WITH TIME ZONE view columns are read as their UTC instant, even when the session's
    TimeZone is not UTC (a plain cast to timestamp would give New York local time there)."""
    from pit_project import invoke

    project = make_project(tmp_path)
    built = build(project, "dev")
    runner = Runner("dev", project)
    try:
        for name in ALL_VIEWS:
            v = VIEWS[name]
            runner.execute([f"alter table {built.relation[name]} alter column {c} set data type timestamptz"
                            for c in (v.timestamp, v.created, v.available) if c])
    finally:
        runner.close()
    # compile again: the DuckDB body reads the columns' types (a naive TIMESTAMP needs no conversion)
    compiled = invoke(project, ["compile"], "dev")
    assert compiled.success, compiled.exception
    built = Built(project, {**built.sql, **{r.node.name: r.node.compiled_code for r in compiled.result.results}},
                  built.relation)
    assert "make_timestamp(epoch_us(fw_src.ts))" in built.sql["pit_all_ts"]
    runner = Runner("dev", project)
    try:
        @settings(max_examples=max(10, EXAMPLES // 4), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(case=random_case())
        def property_(case: RandomCase) -> None:
            runner.execute(["set global TimeZone = 'UTC'"])  # the literals are naive UTC: load them as such
            load(runner, built, case)
            runner.execute(["set global TimeZone = 'America/New_York'"])  # Runner cursors are separate sessions
            every = [(VIEWS[v], case.rows[v], None) for v in ALL_VIEWS]
            for suffix in ("", "_portable"):
                check_training_set(runner, built, f"pit_all_ts{suffix}", "event_ts", every, True, case)
                check_training_set(runner, built, f"pit_all_day{suffix}", "event_day", every, True, case)

        property_()
    finally:
        runner.execute(["set global TimeZone = 'UTC'"])
        runner.close()


def test_duckdb_body_skips_the_conversion_of_naive_timestamp_columns(tmp_path: Path) -> None:
    """The views of the fixture project have TIMESTAMP columns: compared as they are (run_all proves the
    answers); a column of another type keeps the conversion (the test above)."""
    project = make_project(tmp_path)
    built = build(project, "dev")
    sql = built.sql["pit_all_ts"]
    assert "fw_src.ts as fw_ts" in sql, sql  # views without an available_timestamp: the column itself
    assert "and fw_src.ts <= (select max(" in sql, sql  # ... and in the spine-range pre-filter
