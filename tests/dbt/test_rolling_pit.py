"""A training set's window features are the windows at the spine row's time (issue #18).

For a spine row at t, a rolling_features view's window feature is the aggregate over
the source rows in [t - d, t] ([t - d, t) exclusive), not the value at the entity's
last event before t; NULL as for any view when the view has no row within its TTL.
Both PIT bodies (DuckDB's ASOF and the portable one), each with the windows and with the
join of each lookup to its longest window (the per-entity choice forced either way), against the brute-force
reference (tests/dbt/rolling_reference.py, rolling_at), on DuckDB and PostgreSQL,
with spine times between events, exactly on window edges, long after the last
event and before the first. The fixture project is tests/dbt/rolling_project
(models spine, rolling_training, rolling_training_portable); every example refills
the events, rebuilds the views' tables and re-executes the compiled joins.
"""
from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit_project import TESTS, Built, Runner, build, env, fill_statements, invoke, make_project, target_env  # noqa: I001
from rolling_reference import _plain, rolling_at, same
from test_rolling_properties import EVENT_COLUMNS, SPECS, T0, event

EXAMPLES = int(os.environ.get("FW_ROLLING_EXAMPLES", "60"))
FIXTURE = TESTS / "dbt" / "rolling_project"
VIEW_TTL = {"rolling_all": None, "rolling_exclusive": 7200, "rolling_incremental": 3600,
            "rolling_incremental_lifetime": None}  # lifetime: none; YAML 2h; the longest window (1h)
TRAINING = ("rolling_training", "rolling_training_portable")
SPINE_COLUMNS = ["label_id", "customer_id", "merchant_id", "label_ts"]
# from an event's time: on it, a second either side, exactly on the 5m/10m/1h edges, past the TTLs
DELTAS = [timedelta(seconds=s) for s in (-1, 0, 1, 300, 301, 600, 3600, 3601, 7200, 7201, 86400)]


@st.composite
def events_and_spine(draw) -> tuple[list[dict], list[dict]]:
    rows = draw(st.lists(event(), max_size=30))
    instants = sorted({r["ts"] for r in rows if r["ts"] is not None})
    from_events = (st.tuples(st.sampled_from(instants), st.sampled_from(DELTAS)).map(lambda p: p[0] + p[1])
                   if instants else st.nothing())
    at = st.one_of(from_events, st.integers(-12, 40).map(lambda k: T0 + timedelta(minutes=5 * k)),
                   st.just(T0 - timedelta(days=1)), st.just(None))
    spine = draw(st.lists(st.fixed_dictionaries({
        "customer_id": st.sampled_from([1, 2, 3, None]), "merchant_id": st.sampled_from([10, 11, None]),
        "label_ts": at}), min_size=1, max_size=25))
    return rows, [dict(s, label_id=i) for i, s in enumerate(spine)]


def expected_row(rows: list[dict], s: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for view, ttl in VIEW_TTL.items():
        spec = SPECS[view]
        key = tuple(s[k] for k in spec.keys)
        for name, value in rolling_at(spec, rows, key, s["label_ts"], ttl).items():
            out[f"{view}__{name}"] = value
    return out


def refresh(runner: Runner, built: Built, rows: list[dict], spine: list[dict]) -> None:
    """New events, the views' tables rebuilt from them (full-build SQL), a new spine."""
    statements = fill_statements(built.relation["events"], EVENT_COLUMNS, rows)
    for view in VIEW_TTL:
        statements += [f"delete from {built.relation[view]}", f"insert into {built.relation[view]} {built.sql[view]}"]
    runner.execute(statements + fill_statements(built.relation["spine"], SPINE_COLUMNS, spine))


def check(runner: Runner, built: Built, rows: list[dict], spine: list[dict]) -> None:
    refresh(runner, built, rows, spine)
    for model in TRAINING:
        names, got = runner.query(built.sql[model])
        assert len(got) == len(spine), f"{model}: every spine row once"
        for g in got:
            s = next(x for x in spine if x["label_id"] == g["label_id"])
            want = expected_row(rows, s)
            assert set(names) == set(SPINE_COLUMNS) | set(want), f"{model}: output columns"
            problems = [f"{c}: got {g[c]!r}, expected {w!r}" for c, w in want.items() if not same(_plain(g[c]), w)]
            assert not problems, f"{model}, spine row {s}:\n" + "\n".join(problems[:20])


# A fixed case a reader can check by hand: customer 1 pays at 00:00, 00:10 and 00:40.
FIXED_EVENTS = [
    {"customer_id": 1, "merchant_id": 10, "ts": T0, "amount": 1.0, "category": "a"},
    {"customer_id": 1, "merchant_id": 10, "ts": T0 + timedelta(minutes=10), "amount": 2.0, "category": "b"},
    {"customer_id": 1, "merchant_id": 10, "ts": T0 + timedelta(minutes=40), "amount": 4.0, "category": "a"},
]


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fixed(runner: Runner, built: Built) -> None:
    spine = [{"label_id": i, "customer_id": 1, "merchant_id": 10, "label_ts": t}
             for i, t in enumerate([_at(40), _at(45), _at(50), _at(70), _at(160), _at(-5)])]
    refresh(runner, built, FIXED_EVENTS, spine)
    _, got = runner.query(f"select * from ({built.sql['rolling_training']}) as x order by label_id")
    # rolling_all (inclusive, no TTL): count_10m, count_1h, sum_amount_1h, last_amount_10m
    picked = [(r["rolling_all__count_10m"], r["rolling_all__count_1h"], _plain(r["rolling_all__sum_amount_1h"]),
               _plain(r["rolling_all__last_amount_10m"])) for r in got]
    assert picked == [
        (1, 3, 7.0, 4.0),      # at the last event: it is included
        (1, 3, 7.0, 4.0),      # 5 minutes later: the same windows
        (1, 3, 7.0, 4.0),      # 00:50 is exactly 00:40 + 10m: the 10m window still holds 00:40
        (0, 2, 6.0, None),     # 01:10: 00:00 left the hour (01:10 - 1h = 00:10 is included)
        (0, 0, None, None),    # 02:40, 2h after the last event: empty windows, not the last event's values
        (None, None, None, None),  # before all data
    ]
    # rolling_exclusive (exclusive, TTL 2h): at 00:40 the event at 00:40 is left out; 02:40 is exactly the
    # row at 00:40 plus the TTL (inside it), with an empty window
    assert [r["rolling_exclusive__count_1h"] for r in got] == [2, 3, 3, 2, 0, None]


def forced(project: Path, target: str, pg_schema: str | None, factor: float) -> dict[str, str]:
    """The training sets compiled with vars.fw.rolling_pit_join_factor: -1 every entity through
    the windows, 10**18 every one through the join (the default picks per entity)."""
    fw = yaml.safe_load((project / "dbt_project.yml").read_text())["vars"]["fw"]
    result = invoke(project, ["compile", "--select", *TRAINING, "--vars",
                              json.dumps({"fw": {**fw, "rolling_pit_join_factor": factor}})], target, pg_schema)
    assert result.success, result.exception or result.logged
    return {r.node.name: r.node.compiled_code for r in result.result.results}


def run_all(project: Path, target: str, connect, pg_schema: str | None = None) -> None:
    built = build(project, target, pg_schema)
    variants = {"auto": built}
    for name, factor in (("windows", -1), ("join", 10**18)):
        variants[name] = dataclasses.replace(built, sql={**built.sql, **forced(project, target, pg_schema, factor)})
        assert variants[name].sql["rolling_training"] != built.sql["rolling_training"]
    runner = connect()
    try:
        for variant in variants.values():
            fixed(runner, variant)

        @settings(max_examples=EXAMPLES, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(case=events_and_spine())
        def windows_at_the_spines_time(case: tuple[list[dict], list[dict]]) -> None:
            for variant in variants.values():
                check(runner, variant, *case)

        windows_at_the_spines_time()
    finally:
        runner.close()


def test_training_windows_match_reference_on_duckdb(tmp_path: Path) -> None:
    project = make_project(tmp_path, FIXTURE)
    run_all(project, "dev", lambda: Runner("dev", project))


@pytest.mark.postgres
def test_training_windows_match_reference_on_postgres(tmp_path: Path, postgres_uri: str, pg_schema: str) -> None:
    project = make_project(tmp_path, FIXTURE)
    run_all(project, "postgres", lambda: Runner("postgres", project, postgres_uri), pg_schema)


def test_python_historical_retrieval_gives_empty_windows_long_after_the_last_event(tmp_path: Path) -> None:
    """The Python API renders the same macro: 2h after customer 1's last payment its 1h count is 0."""
    import pandas as pd

    from featurewarehouse.config import load_config
    from featurewarehouse.store import FeatureStore

    project = make_project(tmp_path, FIXTURE)
    built = build(project, "dev")
    runner = Runner("dev", project)
    refresh(runner, built, FIXED_EVENTS, [])
    runner.close()
    spine = pd.DataFrame({"customer_id": [1, 1], "label_ts": [_at(40), _at(160)]})
    with env(**target_env(project, "dev")):
        store = FeatureStore(config=load_config(project, target="dev"))
        got = store.get_historical_features(
            spine, ["rolling_all:count_1h", "rolling_all:count_lifetime"], timestamp_column="label_ts").to_pandas()
    assert got["count_1h"].tolist() == [3, 0]
    assert got["count_lifetime"].tolist() == [3, 3]


TWO_PARENTS = (
    "-- a rolling view that refs a second model ({{ ref('spine') }}): a training set cannot tell\n"
    "-- which parent is its source\n"
    "{{ featurewarehouse.rolling_features(\n"
    "    source=ref('events'), entity='customer', timestamp='ts', aggregations=[{'agg': 'count'}], windows=['1h']) }}\n")


def test_a_rolling_view_with_two_parents_fails_with_the_fix(tmp_path: Path) -> None:
    project = make_project(tmp_path, FIXTURE)
    # only in this copy: the shared fixture's registry (built by the online tests) would refuse it
    (project / "models" / "rolling_two_parents.sql").write_text(TWO_PARENTS)
    (project / "models" / "two_parents.yml").write_text(
        "version: 2\nmodels:\n  - name: rolling_two_parents\n    config:\n      meta:\n"
        "        fw: {kind: feature_view, entity: customer, timestamp: ts}\n")
    call = ("{{ featurewarehouse.point_in_time_join(spine=ref('spine'), spine_timestamp='label_ts', "
            "features=['rolling_two_parents:count_1h']) }}")
    result = invoke(project, ["compile", "--inline", call], "dev")
    text = " ".join([str(result.exception or "")] + result.logged)
    assert not result.success
    for part in ("featurewarehouse.point_in_time_join", "feature view 'rolling_two_parents' is a rolling_features view",
                 "it has 2 (", "model.featurewarehouse.events", "model.featurewarehouse.spine",
                 "fix: pass rolling_features a source", "models/rolling_two_parents.sql"):
        assert part in text, f"{part!r} not in {text}"


def test_a_join_factor_that_is_not_a_number_fails_with_the_fix(tmp_path: Path) -> None:
    project = make_project(tmp_path, FIXTURE)
    fw = yaml.safe_load((project / "dbt_project.yml").read_text())["vars"]["fw"]
    call = ("{{ featurewarehouse.point_in_time_join(spine=ref('spine'), spine_timestamp='label_ts', "
            "features=['rolling_all:count_1h']) }}")
    result = invoke(project, ["compile", "--inline", call, "--vars",
                              json.dumps({"fw": {**fw, "rolling_pit_join_factor": "many"}})], "dev")
    text = " ".join([str(result.exception or "")] + result.logged)
    assert not result.success
    for part in ("featurewarehouse.point_in_time_join", "vars.fw.rolling_pit_join_factor must be a number, got many",
                 "fix: set it to a number in dbt_project.yml"):
        assert part in text, f"{part!r} not in {text}"
