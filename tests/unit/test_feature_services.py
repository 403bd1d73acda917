"""Feature services: declared once in vars.fw.feature_services, named by training sets, recorded with their users."""
from __future__ import annotations

import pytest
from registry_support import ENTITIES, SERVICES, TRAINING, fw, manifest

from featurewarehouse.errors import ConfigError, ProblemsError
from featurewarehouse.registry import Registry
from featurewarehouse.registry.builder import build_from_manifest, plain

TRAINING_YML = "models/training/fraud_training_set.yml"


def build(m=None, services=SERVICES) -> Registry:
    return build_from_manifest(m or manifest(), ENTITIES, feature_services=services).registry


def problems(m=None, services=SERVICES) -> list:
    with pytest.raises(ProblemsError) as exc:
        build(m, services)
    return exc.value.problems


def test_the_registry_records_services_and_their_users():
    reg = build()
    [svc] = reg.feature_services
    assert (svc.name, svc.owner, svc.used_by) == ("fraud_model", "risk-ml", ("fraud_training_set",))
    assert svc.features == ("customer_spend_features:*", "merchant_risk_features:chargeback_rate_90d")
    ts = reg.model("fraud_training_set")
    assert ts.feature_service == "fraud_model" and ts.features == svc.features
    assert reg.used_by("merchant_risk_features") == ("fraud_training_set",)
    assert reg.used_by("merchant_risk_features", "chargeback_rate_90d") == ("fraud_training_set",)
    assert Registry.from_dict(plain(reg)) == reg


def test_resolve_takes_a_service_name():
    reg = build()
    assert [f.ref for f in reg.resolve("fraud_model")] == [
        "customer_spend_features:txn_count_7d", "customer_spend_features:amount_sum_7d",
        "merchant_risk_features:chargeback_rate_90d"]
    with pytest.raises(ConfigError, match="unknown feature service 'fraud_modle'. did you mean 'fraud_model'"):
        reg.resolve("fraud_modle")


def test_features_listed_in_a_training_sets_yaml_are_an_error():
    m = manifest()
    fw(m, TRAINING)["features"] = ["customer_spend_features:*"]
    [p] = problems(m)
    assert "lists its features in its YAML" in p.message
    assert p.where == f"{TRAINING_YML}: fraud_training_set.config.meta.fw.features"
    assert "vars.fw.feature_services" in p.hint and "feature_service='<name>'" in p.hint


def test_a_training_set_without_or_with_an_unknown_service():
    m = manifest()
    del fw(m, TRAINING)["feature_service"]
    [p] = problems(m)
    assert "names no feature service" in p.message
    fw(m, TRAINING)["feature_service"] = "fraud_modl"
    [p] = problems(m)
    assert p.message == "training set 'fraud_training_set' names unknown feature service 'fraud_modl'. " \
                        "did you mean 'fraud_model'?"


@pytest.mark.parametrize(("spec", "message"), [
    ({"features": []}, "lists no features"),
    ({"features": ["customer_spend_features:*"], "logging": {"enabled": "yes"}}, "must be a YAML boolean"),
    ({"features": ["customer_spend_features:*"], "logging": {"sample_rate": 2}}, "must be a number from 0 to 1"),
    ({"features": ["customer_spend_features:*"], "ownr": "x"}, "unknown key(s) ownr"),
    ({"features": ["nope:*"]}, "unknown feature view 'nope'"),
])
def test_malformed_services_are_refused(spec, message):
    ps = problems(services={"fraud_model": spec})
    assert any(message in p.message and p.where.startswith("dbt_project.yml: vars.fw.feature_services.fraud_model")
               for p in ps), [p.message for p in ps]
