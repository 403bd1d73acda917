"""`fwctl serve` refuses an open network address without tokens; `fwctl get-online --feature-service`."""
from __future__ import annotations

import json

from featurewarehouse.cli.main import main
from featurewarehouse.online.base import open_store
from featurewarehouse.registry.model import FeatureService, Registry
from test_serving_http import fill


def project_with_service(tmp_path):
    project = tmp_path / "project"
    (project / "target").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: p\nversion: '1'\nprofile: p\n")
    registry = Registry(entities=(), feature_views=(), feature_services=(
        FeatureService("fraud_model", ("merchant_risk_features:*",)),))
    (project / "target" / "fw_registry.json").write_text(json.dumps(registry.to_dict()))
    return project


def test_serving_a_network_address_without_tokens_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FW_SERVE_TOKEN", raising=False)
    monkeypatch.delenv("FW_SERVE_TOKEN_FILE", raising=False)
    store = f"sqlite:///{tmp_path / 'online.db'}"
    assert main(["serve", "--host", "0.0.0.0", "--store", store, "--project-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve 0.0.0.0 without a token" in err and "--insecure" in err


def test_token_file_and_env_token_together_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FW_SERVE_TOKEN", "a-secret-token-value")
    (tmp_path / "tokens.yml").write_text("tokens: []\n")
    assert main(["serve", "--token-file", str(tmp_path / "tokens.yml"), "--store", "sqlite:///x.db"]) == 2
    err = capsys.readouterr().err
    assert "both FW_SERVE_TOKEN and --token-file" in err and "a-secret-token-value" not in err


def test_a_bad_token_file_stops_the_server_before_it_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FW_SERVE_TOKEN", raising=False)
    (tmp_path / "tokens.yml").write_text(json.dumps({"tokens": [{"name": "x", "token": "a-secret-token-value"}]}))
    assert main(["serve", "--token-file", str(tmp_path / "tokens.yml"), "--store", "sqlite:///x.db"]) == 2
    err = capsys.readouterr().err
    assert "tokens[0] (x): grants nothing" in err and "a-secret-token-value" not in err


def test_get_online_reads_a_feature_service(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FW_ONLINE_STORE", raising=False)
    store = f"sqlite:///{tmp_path / 'online.db'}"
    fill(open_store(store))
    project = project_with_service(tmp_path)
    args = ["get-online", "--store", store, "--project-dir", str(project), "-e", "merchant_id=7", "--json"]
    assert main([*args, "--feature-service", "fraud_model"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metadata"]["feature_names"] == ["merchant_id", "chargeback_rate_90d"]
    assert out["results"][1]["values"] == [0.25]
    assert main([*args, "--feature-service", "fraud_model", "-f", "merchant_risk_features:*"]) == 2
    assert "one of them" in capsys.readouterr().err
    assert main([*args, "--feature-service", "fraud"]) == 2
    assert "unknown feature service 'fraud'" in capsys.readouterr().err
