"""featurewarehouse.rolling_features on DuckDB and PostgreSQL equals the brute-force reference.

dbt builds the fixture project (tests/dbt/rolling_project, the real macros/)
and runs its incremental models twice (on base rows, then on new rows: dbt's
own incremental build); every hypothesis example then refills `events` and
re-executes the compiled SQL, so a backend costs three dbt invocations, not one
per example. Generated data hits window edges exactly (a 5-minute grid against
5m/10m/1h windows), puts several rows at one instant, and holds NULL keys,
timestamps and values.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit_project import TESTS, Built, Runner, build, fill_statements, invoke, make_project  # noqa: I001
from rolling_reference import Agg, Spec, diff, rolling

EXAMPLES = int(os.environ.get("FW_ROLLING_EXAMPLES", "60"))
FIXTURE = TESTS / "dbt" / "rolling_project"
EVENT_COLUMNS = ["customer_id", "merchant_id", "ts", "amount", "category"]
T0 = datetime(2024, 1, 1)
INCREMENTAL = ["rolling_incremental", "rolling_incremental_lifetime"]


def _gt(column: str, bound: float):
    return lambda r: r[column] is not None and r[column] > bound


SPECS = {
    "rolling_all": Spec(
        keys=("customer_id",), timestamp="ts", windows=("10m", "1h", "lifetime"), passthrough=("merchant_id",),
        aggs=(
            Agg("count"),
            Agg("count", "amount", "amount_count"),
            Agg("count", name="a_count", keep=lambda r: r["category"] == "a"),
            Agg("sum", "amount"),
            Agg("sum", "amount", "big_sum", keep=_gt("amount", 1)),
            Agg("avg", "amount"),
            Agg("min", "amount"),
            Agg("max", "amount"),
            Agg("stddev", "amount"),
            Agg("count_distinct", "category"),
            Agg("count_distinct", "merchant_id", "paid_merchants", keep=lambda r: r["amount"] is not None
                and r["amount"] >= 0, windows=("10m", "lifetime")),
            Agg("last", "amount"),
            Agg("last", "category", "paid_category", keep=_gt("amount", 0)),
            Agg("min", "category"),
            Agg("max", "category", windows=("1h",)),
        )),
    "rolling_exclusive": Spec(
        keys=("customer_id", "merchant_id"), timestamp="ts", windows=("5m", "1h", "lifetime"), exclusive=True,
        aggs=(
            Agg("count"),
            Agg("sum", "amount"),
            Agg("avg", "amount", keep=lambda r: r["category"] is not None and r["category"] != "a"),
            Agg("stddev", "amount"),
            Agg("count_distinct", "category"),
            Agg("last", "amount"),
            Agg("max", "category"),
        )),
    "rolling_incremental": Spec(
        keys=("customer_id",), timestamp="ts", windows=("10m", "1h"),
        aggs=(Agg("count"), Agg("sum", "amount"), Agg("stddev", "amount"), Agg("count_distinct", "category"),
              Agg("last", "category"))),
    "rolling_incremental_lifetime": Spec(
        keys=("customer_id",), timestamp="ts", windows=("10m", "lifetime"), exclusive=True,
        aggs=(Agg("count"), Agg("max", "amount"), Agg("count_distinct", "category"), Agg("last", "amount"))),
}


# ---- data -----------------------------------------------------------------

def _at(minutes: int, seconds: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


# mostly a 5-minute grid (rows exactly on 5m/10m/1h edges, several per instant), some odd seconds
times = st.one_of(st.integers(0, 30).map(lambda k: _at(5 * k)), st.integers(0, 9000).map(lambda s: _at(0, s)),
                  st.just(None))
# dyadic amounts keep sums exact; text whose order depends on collation ('B' < 'a' < 'é' by code point)
amounts = st.sampled_from([None, -2.5, 0.0, 0.5, 1.0, 1.5, 3.0, 10.25])
categories = st.sampled_from([None, "a", "b", "B", "é", "c"])


def event(ts=times) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "customer_id": st.sampled_from([1, 2, 3, None]), "merchant_id": st.sampled_from([10, 11, None]),
        "ts": ts, "amount": amounts, "category": categories})


@st.composite
def base_and_new(draw) -> tuple[list[dict], list[dict]]:
    """Base rows, then rows at or after the base's latest timestamp (ties with it included)."""
    base = draw(st.lists(event(), max_size=30))
    latest = max((r["ts"] for r in base if r["ts"] is not None), default=T0)
    later = st.integers(0, 24).map(lambda k: latest + timedelta(minutes=5 * k))
    new = draw(st.lists(event(ts=later), max_size=15))
    return base, new


# ---- checks ---------------------------------------------------------------

def check(runner: Runner, sql: str, spec: Spec, rows: list[dict], what: str) -> None:
    names, got = runner.query(sql)
    assert names == spec.columns(), f"{what}: output columns"
    problems = diff(spec, got, rolling(spec, rows))
    assert not problems, f"{what}: " + "\n".join(problems[:20])


def fill(runner: Runner, built: Built, rows: list[dict]) -> None:
    runner.execute(fill_statements(built.relation["events"], EVENT_COLUMNS, rows))


def incremental_step(runner: Runner, relation: str, sql: str, keys: tuple[str, ...]) -> None:
    """What dbt's delete+insert does with the model's incremental SQL: new rows replace their keys."""
    key_list = ", ".join((*keys, "ts"))
    runner.execute([
        f"create temporary table fw_incr_new as {sql}",
        f"delete from {relation} where ({key_list}) in (select {key_list} from fw_incr_new)",
        f"insert into {relation} select * from fw_incr_new",
        "drop table fw_incr_new",
    ])


FIXED_BASE = [
    {"customer_id": 1, "merchant_id": 10, "ts": _at(0), "amount": 1.0, "category": "a"},
    {"customer_id": 1, "merchant_id": 11, "ts": _at(10), "amount": 2.0, "category": "b"},
    {"customer_id": 2, "merchant_id": 10, "ts": _at(50), "amount": None, "category": "a"},
    {"customer_id": 1, "merchant_id": 10, "ts": _at(60), "amount": 4.0, "category": None},
]
FIXED_NEW = [
    {"customer_id": 1, "merchant_id": 10, "ts": _at(60), "amount": 8.0, "category": "c"},  # ties the watermark
    {"customer_id": 1, "merchant_id": 11, "ts": _at(70), "amount": 0.5, "category": "a"},  # 1h edge at 10
    {"customer_id": 3, "merchant_id": 11, "ts": _at(65), "amount": 3.0, "category": "B"},  # a new entity
]


def run_all(project: Path, target: str, connect, pg_schema: str | None = None) -> None:
    """``connect()`` opens a Runner; it is closed around dbt's own runs (DuckDB: one process holds the file)."""
    built = build(project, target, pg_schema)

    # dbt's incremental materialization itself: base rows, then new rows on top
    runner = connect()
    fill(runner, built, FIXED_BASE)
    runner.close()
    first = invoke(project, ["run", "--select", *INCREMENTAL], target, pg_schema)
    assert first.success, first.exception or first.logged
    incremental_sql = {r.node.name: r.node.compiled_code for r in first.result.results}
    assert all("select max(ts) from" in s for s in incremental_sql.values()), "no incremental branch compiled"
    runner = connect()
    fill(runner, built, FIXED_BASE + FIXED_NEW)
    runner.close()
    second = invoke(project, ["run", "--select", *INCREMENTAL], target, pg_schema)
    assert second.success, second.exception or second.logged
    runner = connect()
    try:
        for name in INCREMENTAL:
            check(runner, f"select * from {built.relation[name]}", SPECS[name], FIXED_BASE + FIXED_NEW,
                  f"dbt incremental {name}")
        properties(runner, built, incremental_sql)
    finally:
        runner.close()


def properties(runner: Runner, built: Built, incremental_sql: dict[str, str]) -> None:
    settings_ = settings(max_examples=EXAMPLES, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

    @settings_
    @given(rows=st.lists(event(), max_size=40))
    def full_builds(rows: list[dict]) -> None:
        fill(runner, built, rows)
        for name in ("rolling_all", "rolling_exclusive", *INCREMENTAL):
            check(runner, built.sql[name], SPECS[name], rows, name)

    @settings_
    @given(case=base_and_new())
    def incremental_equals_full(case: tuple[list[dict], list[dict]]) -> None:
        base, new = case
        for name in INCREMENTAL:
            relation = built.relation[name]
            fill(runner, built, base)
            runner.execute([f"delete from {relation}", f"insert into {relation} {built.sql[name]}"])
            fill(runner, built, base + new)
            incremental_step(runner, relation, incremental_sql[name], SPECS[name].keys)
            check(runner, f"select * from {relation}", SPECS[name], base + new, f"incremental {name}")
            _, full = runner.query(built.sql[name])
            _, table = runner.query(f"select * from {relation}")
            assert not diff(SPECS[name], table, full), f"incremental {name} differs from a full build"

    full_builds()
    incremental_equals_full()


def test_rolling_features_match_reference_on_duckdb(tmp_path: Path) -> None:
    project = make_project(tmp_path, FIXTURE)
    run_all(project, "dev", lambda: Runner("dev", project))


@pytest.mark.postgres
def test_rolling_features_match_reference_on_postgres(tmp_path: Path, postgres_uri: str, pg_schema: str) -> None:
    project = make_project(tmp_path, FIXTURE)
    run_all(project, "postgres", lambda: Runner("postgres", project, postgres_uri), pg_schema)
