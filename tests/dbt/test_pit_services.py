"""point_in_time_join(feature_service=...): the service's list, declared once; YAML and SQL must agree.

One `dbt build` of tests/dbt/project/service_models/ (copied into the fixture
project) with the services given as --vars.
"""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from pit_project import FIXTURE, Runner, invoke, make_project  # noqa: I001  (tests/dbt on sys.path)

# the fixture project's own vars.fw (its training sets' services included), plus this module's services
FW_VARS = {"fw": yaml.safe_load((FIXTURE / "dbt_project.yml").read_text())["vars"]["fw"]}
FW_VARS["fw"]["feature_services"].update({
    "svc_pair": {"owner": "t", "features": ["v_ttl:f_int", "v_pair:f_str"]},
    "svc_plain": {"features": ["v_plain:*"]},
})

EXPECTED_ERRORS = {
    "svc_mismatch": ["the model's YAML names feature service 'svc_pair' (config.meta.fw.feature_service) but its "
                     "SQL uses feature service 'svc_plain'", "fix: call point_in_time_join(..., feature_service='svc_pair')"],
    "svc_yaml_but_list": ["the model's YAML names feature service 'svc_plain'", "but its SQL passes features=[...]"],
}

# argument errors stop dbt while it parses: checked through `dbt compile --inline`, as Python callers render
INLINE_ERRORS = {
    "both": ("features=['v_plain:f_int'], feature_service='svc_plain'",
             ["both features=[...] and feature_service='svc_plain' are given", "fix: pass one of them"]),
    "unknown": ("feature_service='svc_plian'",
                ["unknown feature service 'svc_plian'. Did you mean 'svc_plain'?",
                 "fix: declare it in dbt_project.yml under vars.fw.feature_services (known: all_views, short_names, svc_pair, svc_plain)"]),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("pit_services"))
    shutil.copytree(FIXTURE / "service_models", project / "models" / "services",
                    ignore=shutil.ignore_patterns("*.md"))
    result = invoke(project, ["build", "--select", "+path:models/services", "--vars", json.dumps(FW_VARS)], "dev")
    assert result.exception is None, result.exception
    return project, {r.node.name: (str(r.status), " ".join(str(r.message).split())) for r in result.result.results}


@pytest.mark.parametrize("model", sorted(EXPECTED_ERRORS))
def test_service_errors(built, model):
    status, message = built[1][model]
    assert status == "error", (status, message)
    for part in EXPECTED_ERRORS[model]:
        assert part in message, message


def test_a_service_joins_exactly_its_list(built):
    project, results = built
    assert results["svc_ok"][0] == "success" and results["svc_same_list"][0] == "success"
    runner = Runner("dev", project)
    try:
        cols_a, rows_a = runner.query("select * from svc_ok order by all")
        cols_b, rows_b = runner.query("select * from svc_same_list order by all")
    finally:
        runner.close()
    assert cols_a == cols_b and "f_int" in cols_a and "f_str" in cols_a
    assert rows_a == rows_b


@pytest.mark.parametrize("case", sorted(INLINE_ERRORS))
def test_argument_errors_in_inline_queries(tmp_path, case):
    args, expected = INLINE_ERRORS[case]
    project = make_project(tmp_path)
    inline = "{{ featurewarehouse.point_in_time_join(spine='s', spine_timestamp='event_ts', " + args + ") }}"
    result = invoke(project, ["compile", "--inline", inline, "--vars", json.dumps(FW_VARS)], "dev")
    assert not result.success
    text = " ".join("\n".join([str(result.exception), *result.logged]).split())
    for part in expected:
        assert part in text, text
