"""fwctl features services: list the feature services, show one, refuse an unknown one."""
from __future__ import annotations

import json

from test_registry_cli import proj, run  # noqa: F401  (the fixture project, built once per test)


def test_list_and_show_services(proj, capsys):  # noqa: F811
    code, out, _ = run(capsys, proj, "features", "services", "--json")
    assert code == 0
    [svc] = json.loads(out)
    assert (svc["name"], svc["owner"], svc["used_by"]) == ("fraud_model", "risk-ml", ["fraud_training_set"])
    assert svc["expanded"] == ["customer_spend_features:txn_count_7d", "customer_spend_features:amount_sum_7d",
                               "merchant_risk_features:chargeback_rate_90d"]
    code, out, _ = run(capsys, proj, "features", "services", "fraud_model")
    assert code == 0 and "merchant_risk_features:chargeback_rate_90d" in out and "fraud_training_set" in out
    code, out, _ = run(capsys, proj, "features", "show", "merchant_risk_features", "--json")
    assert json.loads(out)["used_by"] == ["fraud_training_set"]


def test_unknown_service_is_a_usage_error(proj, capsys):  # noqa: F811
    code, _, err = run(capsys, proj, "features", "services", "fraud_modl")
    assert code == 2 and "did you mean 'fraud_model'" in err
