"""On Spark (Spark Connect): the PIT macros equal the brute-force reference row for row, and
after ``sync-online`` every online value equals the macro's point-in-time value at sync time.

The same drivers as tests/dbt/test_pit_properties.py and
tests/contract/test_online_consistency.py: dbt-spark builds the fixture project once
(one dbt invocation for the module), then each case refills the tables and re-runs the
compiled SQL. Spark runs each statement as a job, so the generated examples are few
(FW_SPARK_PIT_EXAMPLES).
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import pytest
from hypothesis import HealthCheck, given, settings

for extra in ("dbt", "contract"):  # pit_project, test_pit_properties, test_online_consistency
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / extra))

from pit_project import build, env, make_project  # noqa: E402,I001
import test_online_consistency as consistency  # noqa: E402
import test_pit_properties as pit  # noqa: E402
from pit_cases.strategies import RandomCase, random_case  # noqa: E402

pytestmark = pytest.mark.spark

EXAMPLES = int(os.environ.get("FW_SPARK_PIT_EXAMPLES", "1"))


class SparkRunner:
    """The PIT driver's runner on Spark: ``delete from`` (v2 tables only on Spark) becomes
    ``truncate table``; rows come back through the SparkWarehouse, as fwctl reads them."""

    def __init__(self, remote: str, schema: str):
        from featurewarehouse.offline.spark import SparkWarehouse

        self.wh = SparkWarehouse(remote, schema=schema)

    def execute(self, statements: Sequence[str]) -> None:
        for s in statements:
            if s.startswith("delete from "):
                s = "truncate table " + s[len("delete from "):]
            self.wh.execute(s)

    def query(self, sql: str) -> tuple[list[str], list[dict[str, Any]]]:
        table = self.wh.fetch_arrow(sql)
        return table.column_names, table.to_pylist()

    def close(self) -> None:
        self.wh.close()


def check_case(runner: SparkRunner, built: Any, case: RandomCase) -> None:
    """test_pit_properties.check_case without the ``_portable`` models: on Spark the dispatch
    already picks the portable body, so they would run the same SQL twice."""
    pit.load(runner, built, case)
    every = [(pit.VIEWS[v], case.rows[v], None) for v in pit.ALL_VIEWS]
    pit.check_training_set(runner, built, "pit_all_ts", "event_ts", every, True, case)
    pit.check_training_set(runner, built, "pit_all_day", "event_day", every, True, case)
    short = [(pit.VIEWS["v_ttl"], case.rows["v_ttl"], ["f_int"]),
             (pit.VIEWS["v_pair"], case.rows["v_pair"], ["f_str"])]
    pit.check_training_set(runner, built, "pit_short_names", "event_ts", short, False, case)
    for v in pit.ALL_VIEWS:
        expected = pit.reference.latest_feature_values(pit.VIEWS[v], case.rows[v], case.as_of)
        names, got = runner.query(built.sql[f"latest_{v}"])
        view = pit.VIEWS[v]
        columns = list(dict.fromkeys([*view.keys, "ts", *([view.created] if view.created else []), *view.features]))
        assert names == columns, f"latest_{v}: output columns"
        assert pit.reference.canonical(got, columns) == pit.reference.canonical(expected, columns), f"latest_{v}"


@pytest.fixture(scope="module")
def spark_built(tmp_path_factory, spark_remote):
    """The fixture project built once on Spark, in a schema of its own: (built, runner)."""
    import uuid

    schema = f"fwtest_{uuid.uuid4().hex[:10]}"
    project = make_project(tmp_path_factory.mktemp("spark_pit"))
    with env(FW_SPARK_REMOTE=spark_remote, FW_SPARK_SCHEMA=schema):
        built = build(project, "spark")
    runner = SparkRunner(spark_remote, schema)
    try:
        yield built, runner
    finally:
        runner.wh.execute(f"drop schema if exists {schema} cascade")
        runner.close()


def test_pit_macros_match_reference_on_spark(spark_built) -> None:
    built, runner = spark_built
    # the hand-checked shared cases: exact expected numbers
    for case in [*pit.CASES, pit.DATE_SPINE_CASE]:
        pit.load(runner, built, pit.shared_case_as_random(case))
        model = "pit_all_day" if case is pit.DATE_SPINE_CASE else "pit_all_ts"
        _, got = runner.query(built.sql[model])
        by_tag = sorted((r["row_tag"], r[f"{case.view}__f_int"]) for r in got)
        assert by_tag == sorted(zip([r["row_tag"] for r in case.spine], case.expected_f_int)), (model, case.name)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=random_case())
    def property_(case: RandomCase) -> None:
        check_case(runner, built, case)

    property_()


def test_sync_online_equals_the_macro_at_sync_time_on_spark(spark_built, tmp_path, request) -> None:
    """sync-online streams the latest values from Spark (Arrow batches) into SQLite; every value
    read back equals the macro's, and the sync's own SQL returns exactly the macro's rows."""
    built, runner = spark_built
    consistency.check_consistency((built, runner, runner.wh), "sqlite", tmp_path, request, "spark",
                                  datasets=2, min_compared=20)


def test_a_failing_spark_query_in_sync_is_a_config_error_naming_the_view(spark_built, tmp_path) -> None:
    """A view whose declared feature is not in its Spark table: exit 2 with the view named, not an internal error."""
    from featurewarehouse.errors import ConfigError
    from featurewarehouse.online.base import open_store
    from featurewarehouse.online.sync import sync_views
    from featurewarehouse.registry.model import Feature

    built, runner = spark_built
    good = consistency.feature_view("v_plain", built.relation["v_plain"])
    bad = dataclasses.replace(good, features=(Feature("no_such_column", "v_plain", "bigint"),))
    store = open_store(f"sqlite:///{tmp_path / 'online.db'}")
    try:
        with pytest.raises(ConfigError, match="feature view 'v_plain'.*no_such_column"):
            sync_views(runner.wh, store, consistency.registry(bad), [bad], now=consistency.T0)
    finally:
        store.close()
