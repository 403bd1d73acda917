"""Every argument and metadata error of the PIT macros, one by one: it names the macro, the model and the fix.

One `dbt build` compiles all the broken models of tests/dbt/project/error_models/
(each fails on its own); errors raised while parsing (unknown view, malformed
reference) are checked through `dbt compile --inline`, the way Python callers
render the macro.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pit_project import FIXTURE, invoke, make_project  # noqa: I001  (tests/dbt on sys.path)

PREFIX = "featurewarehouse.point_in_time_join in model.featurewarehouse."

EXPECTED = {
    "err_unknown_feature": [
        "unknown feature 'v_plain:f_itn'", "Did you mean 'f_int'? fix:", "fix: use one of its features (f_int, f_str)",
        "models/views/views.yml"],
    "err_unknown_entity": [
        "feature view 'err_view_unknown_entity' (models/errors/err_views.yml) names unknown entity"
        " 'custmer'. Did you mean 'customer'?",
        "fix: use one of the entities declared in dbt_project.yml under vars.fw.entities (customer, merchant)"],
    "err_missing_timestamp": [
        "feature view 'err_view_no_timestamp' (models/errors/err_views.yml) has no timestamp column"
        " in config.meta.fw.timestamp",
        "fix: add `timestamp: <column>`"],
    "err_bad_ttl": [
        "feature view 'err_view_bad_ttl' has a malformed ttl '30 days' in config.meta.fw.ttl",
        "fix: write a positive number and a unit with no spaces (45s, 90m, 12h, 30d or 2w)"],
    "err_feature_twice": ["feature 'v_plain:f_int' is listed twice", "fix: list each feature once"],
    "err_name_clash": [
        "feature name 'f_int' clashes: both 'v_plain' and 'v_ttl' provide it", "fix: pass full_feature_names=true"],
    "err_spine_missing_key": [
        "has no join-key column 'merchant_id' needed by feature view 'v_merchant'",
        "fix: add a column named 'merchant_id'"],
    "err_spine_missing_timestamp": [
        "has no column 'evt_ts' (spine_timestamp). Did you mean 'event_ts'?",
        "fix: pass the name of the spine's event-time column as spine_timestamp"],
    "err_not_a_view": [
        "model 'pit_spine' (models/pit_spine.yml) is not a feature view (config.meta.fw.kind is 'label')",
        "fix: set config.meta.fw.kind: feature_view"],
    "err_latest_bad_ttl": [
        "featurewarehouse.latest_feature_values in model.featurewarehouse.err_latest_bad_ttl"
        " (models/errors/err_latest_bad_ttl.sql): feature view 'err_view_bad_ttl' has a malformed ttl '30 days'"],
}


@pytest.fixture(scope="module")
def error_results(tmp_path_factory) -> dict[str, str]:
    project = make_project(tmp_path_factory.mktemp("pit_errors"))
    shutil.copytree(FIXTURE / "error_models", project / "models" / "errors", ignore=shutil.ignore_patterns("*.md"), dirs_exist_ok=True)
    result = invoke(project, ["build", "--select", "+path:models/errors"], "dev")
    assert result.exception is None, result.exception
    return {r.node.name: f"{r.status}: {r.message}" for r in result.result.results}


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_metadata_error_names_macro_model_and_fix(error_results: dict[str, str], model: str) -> None:
    message = " ".join(error_results[model].split())  # dbt indents continuation lines
    assert message.startswith("error: "), message
    if model != "err_latest_bad_ttl":
        assert f"{PREFIX}{model} (models/errors/{model}.sql): " in message, message
    for part in EXPECTED[model]:
        assert " ".join(part.split()) in message, message


def test_valid_models_still_build(error_results: dict[str, str]) -> None:
    # The broken models fail alone: the views and spines they use build.
    assert error_results["v_plain"].startswith("success"), error_results["v_plain"]
    assert error_results["err_spine_no_merchant"].startswith("success")
    assert sum(1 for m in error_results if m in EXPECTED) == len(EXPECTED)


@pytest.mark.parametrize(
    ("inline", "expected"),
    [
        (
            "{{ featurewarehouse.point_in_time_join(spine='my_spine', spine_timestamp='event_ts',"
            " features=['v_plian:f_int']) }}",
            ["featurewarehouse.point_in_time_join in sql_operation.featurewarehouse.inline_query",
             "unknown feature view 'v_plian'. Did you mean 'v_plain'?",
             "fix: reference one of the feature views (v_avail, v_avail_nottl, v_merchant, v_pair, v_plain, v_ttl)"],
        ),
        (
            "{{ featurewarehouse.point_in_time_join(spine='my_spine', spine_timestamp='event_ts',"
            " features=['v_plain.f_int']) }}",
            ["featurewarehouse.point_in_time_join in sql_operation.featurewarehouse.inline_query",
             "malformed feature reference 'v_plain.f_int'",
             "fix: write it as feature_view:feature, or feature_view:* for all of a view's features"],
        ),
    ],
    ids=["unknown_view", "malformed_reference"],
)
def test_parse_time_errors_in_inline_queries(tmp_path: Path, inline: str, expected: list[str]) -> None:
    project = make_project(tmp_path)
    result = invoke(project, ["compile", "--inline", inline], "dev")
    assert not result.success
    text = "\n".join([str(result.exception), *result.logged])
    for part in expected:
        assert part in text, text


@pytest.mark.parametrize("var, value, message, fix", [
    ("fw_pit_formulation", "fast", "vars.fw_pit_formulation is 'fast'",
     "fix: set it to 'auto' (chosen per view from statistics), 'asof' or 'range', or remove it"),
    ("fw_pit_spine_rows", "many", "vars.fw_pit_spine_rows is 'many'",
     "fix: set it to the spine's row count (a whole number), or remove it"),
])
def test_a_bad_formulation_var_names_what_it_takes(tmp_path: Path, var: str, value: str, message: str,
                                                   fix: str) -> None:
    """vars.fw_pit_formulation takes auto, asof or range, vars.fw_pit_spine_rows a row count
    (macros/pit_formulation.sql); anything else fails the compile."""
    project = make_project(tmp_path)
    result = invoke(project, ["compile", "--select", "pit_all_ts", "--vars", f"{{{var}: {value}}}"], "dev")
    assert not result.success
    text = " ".join(" ".join([str(result.exception), *result.logged, *(
        str(r.message) for r in getattr(result.result, "results", None) or [])]).split())
    assert message in text, text
    assert fix in text, text
