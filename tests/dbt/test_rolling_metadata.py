"""A rolling_features view needs no column YAML: its generated features and TTL reach the
registry, validation and the PIT macros (a YAML column or ttl still wins)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pit_project import TESTS, Runner, build, make_project  # noqa: I001
from featurewarehouse.errors import ProblemsError
from featurewarehouse.registry.builder import build_from_manifest
from featurewarehouse.validation.suites import specs_from_manifest

ENTITIES = {
    "customer": {"join_keys": [{"name": "customer_id", "dtype": "bigint"}]},
    "merchant": {"join_keys": [{"name": "merchant_id", "dtype": "bigint"}]},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("rolling_meta"), TESTS / "dbt" / "rolling_project")
    result = build(project, "dev")
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    return project, result, manifest


def test_registry_gets_generated_features_types_descriptions_and_ttl(built) -> None:
    _, _, manifest = built
    views = {v.name: v for v in build_from_manifest(manifest, ENTITIES).registry.feature_views}
    spend = views["rolling_all"]
    names = [f.name for f in spend.features]
    assert names[:4] == ["count_10m", "count_1h", "count_lifetime", "amount_count_10m"]
    assert names[-2:] == ["min_category_lifetime", "max_category_1h"] and len(names) == 42
    by_name = {f.name: f for f in spend.features}
    assert by_name["count_10m"].description.startswith("Overridden in YAML")  # the YAML column wins
    assert by_name["count_10m"].checks == {"min": 0}
    assert (by_name["sum_amount_1h"].dtype, by_name["count_distinct_category_1h"].dtype) == ("double", "bigint")
    assert by_name["max_category_1h"].dtype == "varchar"
    assert by_name["big_sum_10m"].description == (
        "Sum of amount where amount > 1, in the 10m up to and including this instant (start included).")
    assert spend.ttl_seconds is None  # a lifetime window: no TTL
    assert views["rolling_incremental"].ttl_seconds == 3600  # the longest window
    assert views["rolling_exclusive"].ttl_seconds == 7200  # config.meta.fw.ttl wins


def test_validation_specs_see_generated_feature_columns(built) -> None:
    _, _, manifest = built
    spec = {s.name: s for s in specs_from_manifest(manifest, ENTITIES)}["rolling_incremental"]
    features = [c.name for c in spec.columns if c.feature]
    assert features == ["count_10m", "count_1h", "sum_amount_10m", "sum_amount_1h", "stddev_amount_10m",
                        "stddev_amount_1h", "count_distinct_category_10m", "count_distinct_category_1h",
                        "last_category_10m", "last_category_1h"]


def test_pit_macros_read_generated_features_and_ttl(built) -> None:
    project, result, _ = built
    sql = result.sql["latest_rolling"]
    assert "-3600" in sql  # the generated TTL (1h) bounds the candidates
    runner = Runner("dev", project)
    try:
        names, _ = runner.query(sql)
    finally:
        runner.close()
    assert names == ["customer_id", "ts", "count_10m", "count_1h", "sum_amount_10m", "sum_amount_1h",
                     "stddev_amount_10m", "stddev_amount_1h", "count_distinct_category_10m",
                     "count_distinct_category_1h", "last_category_10m", "last_category_1h"]


def test_a_rolling_view_with_an_available_timestamp_is_a_problem_that_says_what_to_do(built) -> None:
    _, _, manifest = built
    manifest = copy.deepcopy(manifest)
    node = next(n for n in manifest["nodes"].values() if n["name"] == "rolling_all")
    node["config"]["meta"]["fw"]["available_timestamp"] = "ts"
    with pytest.raises(ProblemsError) as err:
        build_from_manifest(manifest, ENTITIES)
    [problem] = [p for p in err.value.problems if "available_timestamp" in p.message]
    assert "rolling_all" in problem.message and "do not support" in problem.message
    assert "staging model" in problem.hint
