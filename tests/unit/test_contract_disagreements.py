"""Each disagreement issue 14 listed between the readers of the metadata contract, fixed once.

Every test here failed before the contract had one home (python/featurewarehouse/contract/).
"""
from __future__ import annotations

import pytest
from registry_support import ENTITIES, manifest

from featurewarehouse.contract.types import type_family
from featurewarehouse.errors import MetadataError
from featurewarehouse.offline.spine import dtype_family
from featurewarehouse.online.keys import coerce_key_part, encode_key, kind_of
from featurewarehouse.registry import parse_ttl
from featurewarehouse.registry.builder import build_from_manifest
from featurewarehouse.validation.suites import ColumnSpec, ModelSpec, family, generate_expectations


def test_a_ubigint_key_takes_the_integer_42_online():
    # the sync encodes a ubigint key as an integer, so get-online must accept 42 (it said "must be a string")
    kind = kind_of("UBIGINT")
    assert kind == "int"
    assert encode_key((coerce_key_part(42, kind, "customer_id"),), (kind,)) == "i42"


def test_int64_gets_a_type_expectation():
    spec = ModelSpec(name="m", schema="s", table="m", relation="s.m", columns=(ColumnSpec("n", "int64"),),
                     dialect="bigquery")
    types = [e for e in generate_expectations(spec) if e["type"] == "expect_column_values_to_be_in_type_list"]
    assert types and "BIGINT" in types[0]["kwargs"]["type_list"]


def test_timestamptz_is_known_to_the_spine_checks():
    assert dtype_family("timestamptz") == "timestamptz"
    assert dtype_family("timestamp with time zone") == "timestamptz"


@pytest.mark.parametrize("name", ["numeric", "NUMERIC(18,2)", "decimal"])
def test_numeric_is_one_family_everywhere(name):
    assert type_family(name) == family(name) == dtype_family(name) == "decimal"
    assert kind_of(name) == "float"  # online: a decimal is stored as its number


@pytest.mark.parametrize("ttl", ["\t30d", "\u0663d", 3600.0, " 30d", "30d\n"])
def test_ttls_the_macro_rejects_are_rejected(ttl):
    with pytest.raises(MetadataError, match="malformed ttl"):
        parse_ttl(ttl)


def test_an_explicit_feature_then_its_view_star_is_accepted_by_the_registry_build():
    services = {"fraud_model": {"features": ["customer_spend_features:txn_count_7d", "customer_spend_features:*"]}}
    reg = build_from_manifest(manifest(), ENTITIES, feature_services=services).registry
    assert [f.ref for f in reg.resolve(reg.model("fraud_training_set").features)] == [
        "customer_spend_features:txn_count_7d", "customer_spend_features:amount_sum_7d"]
