"""Shared helpers for the registry unit tests: the fixture manifest and ways to bend it.

``fixtures/registry_manifest.json`` was written by ``dbt parse`` (dbt-core 1.11) on a
small project (sources raw.transactions/chargebacks, two staging models, feature views
customer_spend_features and merchant_risk_features, label fraud_labels, training set
fraud_training_set) and trimmed to the fields the registry reads.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
ENTITIES = {
    "customer": {"description": "A card holder.", "join_keys": [{"name": "customer_id", "dtype": "bigint"}]},
    "merchant": {"description": "A merchant.", "join_keys": [{"name": "merchant_id", "dtype": "bigint"}]},
}
# vars.fw.feature_services: the training set's features, declared once
SERVICES = {
    "fraud_model": {"description": "The fraud classifier's features.", "owner": "risk-ml",
                    "features": ["customer_spend_features:*", "merchant_risk_features:chargeback_rate_90d"]},
}
SPEND = "model.mini.customer_spend_features"
RISK = "model.mini.merchant_risk_features"
TRAINING = "model.mini.fraud_training_set"
LABELS = "model.mini.fraud_labels"
STG = "model.mini.stg_transactions"

_BASE = json.loads((FIXTURES / "registry_manifest.json").read_text())


def manifest() -> dict[str, Any]:
    """A fresh deep copy of the fixture manifest."""
    return copy.deepcopy(_BASE)


def fw(m: dict[str, Any], uid: str) -> dict[str, Any]:
    """The ``config.meta.fw`` dict of a node, to edit in place (the builder reads config first)."""
    return m["nodes"][uid]["config"]["meta"]["fw"]


def add_column(m: dict[str, Any], uid: str, name: str, *, feature: bool = True, data_type: str = "bigint",
               description: str = "") -> None:
    col: dict[str, Any] = {"name": name, "description": description, "data_type": data_type}
    if feature:
        col["config"] = {"meta": {"fw": {"feature": True}}}
    m["nodes"][uid]["columns"][name] = col


def project(tmp_path: Path, m: dict[str, Any] | None = None) -> Path:
    """A project directory with dbt_project.yml (entities) and target/manifest.json."""
    import yaml

    root = tmp_path / "proj"
    (root / "target").mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(yaml.safe_dump({
        "name": "mini", "version": "0.1.0", "config-version": 2, "profile": "mini",
        "vars": {"fw": {"entities": ENTITIES, "feature_services": SERVICES}},
    }))
    (root / "target" / "manifest.json").write_text(json.dumps(m if m is not None else manifest()))
    return root
