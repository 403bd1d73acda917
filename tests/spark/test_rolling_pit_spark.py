"""On Spark (Spark Connect): a training set's window features are the windows at the spine's time,
as on DuckDB and PostgreSQL (tests/dbt/test_rolling_pit.py, whose generators and reference it uses).

dbt-spark builds the inclusive view rolling_spark and its training set of the fixture project
tests/dbt/rolling_project once; each example refills the events, rebuilds the view's table and
re-runs the compiled join, once with the per-entity choice and once with windows everywhere.
Spark runs each statement as a job, so the examples are few (FW_SPARK_PIT_EXAMPLES).
"""
from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))

from pit_project import TESTS, env, fill_statements, invoke, make_project  # noqa: E402,I001
from rolling_reference import Agg, Spec, _plain, rolling_at, same  # noqa: E402
from test_pit_spark import SparkRunner  # noqa: E402
from test_rolling_pit import FIXED_EVENTS, SPINE_COLUMNS, T0, events_and_spine  # noqa: E402
from test_rolling_properties import EVENT_COLUMNS  # noqa: E402

pytestmark = pytest.mark.spark

EXAMPLES = int(os.environ.get("FW_SPARK_PIT_EXAMPLES", "3"))
MODELS = ["events", "spine", "rolling_spark", "rolling_training_spark"]
SPEC = Spec(keys=("customer_id",), timestamp="ts", windows=("10m", "1h"), aggs=(
    Agg("count"), Agg("sum", "amount"),
    Agg("avg", "amount", keep=lambda r: r["category"] is not None and r["category"] != "a"),
    Agg("stddev", "amount"), Agg("count_distinct", "category"), Agg("last", "amount")))
TTL = 3600  # the longest window


@pytest.fixture(scope="module")
def spark_built(tmp_path_factory, spark_remote):
    schema = f"fwtest_{uuid.uuid4().hex[:10]}"
    project = make_project(tmp_path_factory.mktemp("spark_rolling_pit"), TESTS / "dbt" / "rolling_project")
    fw = yaml.safe_load((project / "dbt_project.yml").read_text())["vars"]["fw"]
    with env(FW_SPARK_REMOTE=spark_remote, FW_SPARK_SCHEMA=schema):
        built = invoke(project, ["build", "--select", *MODELS], "spark")
        assert built.success, built.exception or built.logged
        windows = invoke(project, ["compile", "--select", "rolling_training_spark", "--vars",
                                   json.dumps({"fw": {**fw, "rolling_pit_join_factor": -1}})], "spark")
        assert windows.success, windows.exception or windows.logged
    nodes = {r.node.name: r.node for r in built.result.results}
    assert windows.result.results[0].node.compiled_code != nodes["rolling_training_spark"].compiled_code
    runner = SparkRunner(spark_remote, schema)
    try:
        yield ({n: nodes[n].relation_name for n in MODELS}, nodes["rolling_spark"].compiled_code,
               [nodes["rolling_training_spark"].compiled_code, windows.result.results[0].node.compiled_code], runner)
    finally:
        runner.wh.execute(f"drop schema if exists {schema} cascade")
        runner.close()


def check(spark_built, rows: list[dict], spine: list[dict]) -> None:
    relation, view_sql, trainings, runner = spark_built
    # pit_project.literal writes floats as `double precision`, which Spark SQL does not parse
    events = [s.replace(" as double precision)", " as double)") for s in fill_statements(relation["events"], EVENT_COLUMNS, rows)]
    runner.execute(events + [f"delete from {relation['rolling_spark']}", f"insert into {relation['rolling_spark']} {view_sql}"]
                   + fill_statements(relation["spine"], SPINE_COLUMNS, spine))
    for sql in trainings:
        _, got = runner.query(sql)
        assert len(got) == len(spine)
        for g in got:
            s = next(x for x in spine if x["label_id"] == g["label_id"])
            want = rolling_at(SPEC, rows, (s["customer_id"],), s["label_ts"], TTL)
            problems = [f"{c}: got {g[c]!r}, expected {w!r}" for c, w in want.items() if not same(_plain(g[c]), w)]
            assert not problems, f"spine row {s}:\n" + "\n".join(problems)


def test_training_windows_match_reference_on_spark(spark_built) -> None:
    from datetime import timedelta

    spine = [{"label_id": i, "customer_id": 1, "merchant_id": 10, "label_ts": T0 + timedelta(minutes=m)}
             for i, m in enumerate([40, 45, 50, 70, 100, 101, -5])]
    check(spark_built, FIXED_EVENTS, spine)

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=events_and_spine())
    def windows_at_the_spines_time(case) -> None:
        check(spark_built, *case)

    windows_at_the_spines_time()
