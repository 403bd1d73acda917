"""The shared contract cases (tests/contract_cases/*.json) through the Python contract.

tests/dbt/test_contract_parity.py runs the same files through the Jinja macros.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from featurewarehouse.contract.ttl import ttl_seconds_or_none
from featurewarehouse.contract.types import type_family
from featurewarehouse.refs import RefError, expand_refs

CASES = Path(__file__).resolve().parents[1] / "contract_cases"


def load(name: str) -> dict:
    return json.loads((CASES / name).read_text())


@pytest.mark.parametrize(("dialect", "name", "family"), load("types.json")["cases"])
def test_type_family(dialect, name, family):
    assert type_family(name, dialect) == family


@pytest.mark.parametrize("case", load("ttl.json")["cases"], ids=lambda c: repr(c["ttl"]))
def test_ttl(case):
    assert ttl_seconds_or_none(case["ttl"]) == (case["ok"], case.get("seconds"))


@pytest.mark.parametrize("case", load("refs.json")["cases"], ids=lambda c: repr(c["refs"]))
def test_refs(case):
    views = load("refs.json")["views"]
    if "error" in case:
        with pytest.raises(RefError) as exc:
            expand_refs(case["refs"], views)
        assert exc.value.code == case["error"]
    else:
        assert [str(r) for r in expand_refs(case["refs"], views)] == case["expanded"]
