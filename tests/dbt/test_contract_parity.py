"""The Jinja macros (macros/fw_contract.sql) give the Python contract's answer on every shared case.

tests/contract_cases/*.json hold type names of every engine with their family,
TTLs with their seconds or rejection, and ref lists with their expansion or the
rule they break. tests/unit/test_contract_cases.py checks the Python side
against the same files; here one `dbt compile --inline` renders all cases at
once through the macros (the project is a bare dbt project with the
repository's macros, no models).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pit_project import REPO, invoke  # noqa: I001  (tests/dbt on sys.path)

CASES = REPO / "tests" / "contract_cases"

PROJECT = """\
name: featurewarehouse
version: "0.1.0"
config-version: 2
profile: featurewarehouse
macro-paths: ["macros"]
target-path: target
"""


def load(name: str) -> dict:
    return json.loads((CASES / name).read_text())


@pytest.fixture(scope="module")
def jinja(tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("contract") / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text(PROJECT)
    shutil.copytree(REPO / "macros", project / "macros")
    shutil.copy(REPO / "profiles" / "profiles.yml", project / "profiles.yml")
    types, ttls, refs = load("types.json"), load("ttl.json"), load("refs.json")
    # JSON is YAML: dbt reads --vars with the tabs, unicode digits and floats intact
    variables = json.dumps({"t": types["cases"], "ttl": [c["ttl"] for c in ttls["cases"]],
                            "r": [c["refs"] for c in refs["cases"]], "v": refs["views"]})
    inline = "{{ featurewarehouse.fw_contract_cases(var('t'), var('ttl'), var('r'), var('v')) }}"
    result = invoke(project, ["compile", "--inline", inline, "--vars", variables], "dev")
    assert result.exception is None and result.success, (result.exception, result.logged)
    return json.loads(result.result.results[0].node.compiled_code)


def test_vars_reach_the_macros_intact(jinja):
    # the cases that only differ by a tab, a unicode digit or a float must arrive as written
    ttls = [c["ttl"] for c in load("ttl.json")["cases"]]
    assert "\t30d" in ttls and "\u0663d" in ttls and any(isinstance(t, float) for t in ttls)
    assert len(jinja["ttl"]) == len(ttls)


def test_type_families_agree(jinja):
    cases = load("types.json")["cases"]
    wrong = [(d, n, want, got) for (d, n, want), got in zip(cases, jinja["types"]) if got != want]
    assert not wrong, wrong


def test_ttls_agree(jinja):
    cases = load("ttl.json")["cases"]
    wrong = []
    for case, got in zip(cases, jinja["ttl"]):
        want = {"ok": True, "seconds": case["seconds"]} if case["ok"] else {"ok": False}
        if got != want:
            wrong.append((case["ttl"], want, got))
    assert not wrong, wrong


def test_refs_agree(jinja):
    cases = load("refs.json")["cases"]
    wrong = []
    for case, got in zip(cases, jinja["refs"]):
        if "error" in case:
            ok = got.get("error") == case["error"]
        else:
            ok = [f"{v}:{f}" for v, f in got.get("selected", [])] == case["expanded"] and "error" not in got
        if not ok:
            wrong.append((case, got))
    assert not wrong, wrong
