"""fwctl registry/features/lineage/lint on a fixture project (no dbt run: --no-parse / --manifest)."""
from __future__ import annotations

import json

import pytest
from registry_support import SPEND, fw, manifest, project

from featurewarehouse.cli.main import main


@pytest.fixture
def proj(tmp_path, monkeypatch, capsys):
    for var in ("DBT_TARGET_PATH", "FW_PROJECT_DIR", "FW_TARGET"):
        monkeypatch.delenv(var, raising=False)
    from featurewarehouse.cli import output

    monkeypatch.setattr(output.console, "width", 240)
    monkeypatch.setattr(output.err_console, "width", 240)
    root = project(tmp_path)
    assert main(["registry", "build", "--no-parse", "--project-dir", str(root)]) == 0
    capsys.readouterr()
    return root


def run(capsys, root, *args):
    code = main([*args, "--project-dir", str(root)])
    out, err = capsys.readouterr()
    return code, out, err


def test_registry_build_json_and_readable(proj, capsys):
    code, out, _ = run(capsys, proj, "registry", "build", "--no-parse", "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["feature_views"], data["features"], data["models"]) == (2, 3, 2)
    assert data["path"] == str(proj / "target" / "fw_registry.json")
    assert data["changes"]["views"] == {"added": [], "removed": [], "changed": []}
    m = manifest()
    fw(m, SPEND)["ttl"] = "14d"
    other = proj / "other_manifest.json"
    other.write_text(json.dumps(m))
    code, out, err = run(capsys, proj, "registry", "build", "--manifest", str(other))
    assert code == 0
    assert "~ view customer_spend_features (ttl_seconds)" in out
    assert f"changes since {data['version']}:" in err


def test_registry_build_reports_problems_exit_2(proj, capsys):
    m = manifest()
    fw(m, SPEND)["entity"] = "nobody"
    bad = proj / "bad.json"
    bad.write_text(json.dumps(m))
    code, out, err = run(capsys, proj, "registry", "build", "--manifest", str(bad))
    assert code == 2 and out == ""
    assert err.splitlines()[:2] == [
        "error: the registry was not written; problems found: 1",
        "- feature view 'customer_spend_features' names unknown entity 'nobody'.",
    ]
    assert "at: models/features/customer_spend_features.yml: customer_spend_features.config.meta.fw.entity" in err


def test_missing_manifest_is_a_clear_error(proj, capsys):
    code, _, err = run(capsys, proj, "registry", "build", "--manifest", str(proj / "nope.json"))
    assert code == 2 and err.startswith("error: dbt manifest not found:")


def test_features_list_filters(proj, capsys):
    code, out, _ = run(capsys, proj, "features", "list", "--json")
    assert [r["ref"] for r in json.loads(out)] == [
        "customer_spend_features:txn_count_7d", "customer_spend_features:amount_sum_7d",
        "merchant_risk_features:chargeback_rate_90d"]
    code, out, _ = run(capsys, proj, "features", "list", "--entity", "merchant", "--json")
    assert [r["ref"] for r in json.loads(out)] == ["merchant_risk_features:chargeback_rate_90d"]
    code, out, _ = run(capsys, proj, "features", "list", "--tag", "payments", "--json")
    assert len(json.loads(out)) == 2
    code, out, _ = run(capsys, proj, "features", "list", "--kind", "training_set", "--json")
    assert json.loads(out) == [{"name": "fraud_training_set", "kind": "training_set", "entities": [], "features": 2,
                                "owner": None, "tags": [], "description": "Labels joined with features."}]
    code, out, _ = run(capsys, proj, "features", "list", "--kind", "feature_view")
    assert code == 0 and "customer_spend_features" in out and "merchant_risk_features" in out
    code, _, err = run(capsys, proj, "features", "list", "--kind", "views")
    assert code == 2 and "unknown kind 'views'" in err
    code, _, err = run(capsys, proj, "features", "list", "--owner", "nobody")
    assert code == 0 and "nothing matches" in err


def test_features_show(proj, capsys):
    code, out, _ = run(capsys, proj, "features", "show", "customer_spend_features", "--json")
    data = json.loads(out)
    assert (data["kind"], data["ttl"], data["used_by"]) == ("feature_view", "30d", ["fraud_training_set"])
    assert data["features"][1]["derived_from"] == [
        "stg_transactions.amount", "stg_transactions.customer_id", "stg_transactions.event_ts"]
    code, out, _ = run(capsys, proj, "features", "show", "merchant_risk_features:chargeback_rate_90d")
    assert code == 0 and "source:raw.chargebacks.reported_at" in out and "used by: fraud_training_set" in out
    code, _, err = run(capsys, proj, "features", "show", "customer_spend_features:txn_count_7")
    assert code == 2 and "did you mean 'txn_count_7d'" in err


def test_features_search_and_lineage(proj, capsys):
    code, out, _ = run(capsys, proj, "features", "search", "chargeback", "--json")
    assert [h["ref"] for h in json.loads(out)] == ["merchant_risk_features:chargeback_rate_90d", "merchant_risk_features"]
    code, _, err = run(capsys, proj, "features", "search", "nothing-like-this")
    assert code == 0 and "no feature or view matches" in err
    code, out, _ = run(capsys, proj, "lineage", "customer_spend_features:txn_count_7d", "--json")
    assert json.loads(out)["source_columns"] == ["source:raw.transactions.customer_id", "source:raw.transactions.txn_ts"]
    code, out, _ = run(capsys, proj, "lineage", "customer_spend_features:txn_count_7d")
    assert code == 0 and "└── source:raw.transactions.txn_ts  (source)" in out


def test_lint_exit_codes(proj, capsys):
    code, out, _ = run(capsys, proj, "lint")
    assert code == 0 and "no findings" in out
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace(
        "count(*) over (", "count(*) over (partition by customer_id) as leaky,\n    count(*) over (")
    leaky = proj / "leaky.json"
    leaky.write_text(json.dumps(m))
    assert run(capsys, proj, "registry", "build", "--manifest", str(leaky))[0] == 0
    code, out, err = run(capsys, proj, "lint", "--json")
    assert code == 1
    assert [(f["rule"], f["line"], f["model"]) for f in json.loads(out)["findings"]] == [
        ("FW005", 10, "customer_spend_features")]
    assert "error: lint found 1 error(s) in feature-view SQL" in err
    code, out, _ = run(capsys, proj, "lint", "--select", "merchant_risk_features")
    assert code == 0
