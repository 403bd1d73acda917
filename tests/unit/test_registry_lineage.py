"""Column-level lineage through CTEs, joins and upstream models, down to the sources."""
from __future__ import annotations

import pytest
from registry_support import ENTITIES, SERVICES, RISK, manifest

from featurewarehouse.errors import ConfigError
from featurewarehouse.registry.builder import build_from_manifest
from featurewarehouse.registry.lineage import column_lineage, source_columns


@pytest.fixture(scope="module")
def reg():
    return build_from_manifest(manifest(), ENTITIES, feature_services=SERVICES).registry


def test_through_a_cte_and_a_renaming_staging_model(reg):
    # amount_sum_7d = sum(amount) over (partition by customer_id order by event_ts), event_ts = txn_ts upstream
    assert reg.column_lineage["customer_spend_features"]["amount_sum_7d"] == [
        "stg_transactions.amount", "stg_transactions.customer_id", "stg_transactions.event_ts"]
    assert source_columns(reg, "customer_spend_features:amount_sum_7d") == [
        "source:raw.transactions.amount", "source:raw.transactions.customer_id", "source:raw.transactions.txn_ts"]
    assert source_columns(reg, "customer_spend_features:txn_count_7d") == [
        "source:raw.transactions.customer_id", "source:raw.transactions.txn_ts"]


def test_through_three_ctes_and_a_join(reg):
    # chargeback_rate_90d: avg(is_cb) over (... merchant_id ... event_ts); is_cb from cb.reported_at vs t.event_ts
    tree = column_lineage(reg, "merchant_risk_features:chargeback_rate_90d")
    assert tree.kind == "feature"
    assert [p.name for p in tree.parents] == [
        "stg_chargebacks.reported_at", "stg_transactions.event_ts", "stg_transactions.merchant_id"]
    assert [(p.name, p.kind) for p in tree.parents[0].parents] == [("source:raw.chargebacks.reported_at", "source")]
    assert [leaf.name for leaf in tree.leaves()] == [
        "source:raw.chargebacks.reported_at", "source:raw.transactions.merchant_id", "source:raw.transactions.txn_ts"]


def test_join_picks_the_right_side():
    m = manifest()
    m["nodes"][RISK]["raw_code"] = (
        "select t.merchant_id, t.event_ts, c.reported_at as chargeback_rate_90d\n"
        "from {{ ref('stg_transactions') }} t\n"
        "join {{ ref('stg_chargebacks') }} c on c.transaction_id = t.transaction_id")
    reg = build_from_manifest(m, ENTITIES, feature_services=SERVICES).registry
    assert reg.column_lineage["merchant_risk_features"] == {
        "chargeback_rate_90d": ["stg_chargebacks.reported_at"],
        "event_ts": ["stg_transactions.event_ts"],
        "merchant_id": ["stg_transactions.merchant_id"],
    }


def test_unknown_feature_has_did_you_mean(reg):
    with pytest.raises(ConfigError, match="did you mean 'txn_count_7d'"):
        column_lineage(reg, "customer_spend_features:txn_count_7")


def test_lineage_as_dict(reg):
    d = column_lineage(reg, "customer_spend_features:txn_count_7d").to_dict()
    assert d["model"] == "customer_spend_features" and d["column"] == "txn_count_7d"
    assert [p["model"] + "." + p["column"] for p in d["parents"]] == [
        "stg_transactions.customer_id", "stg_transactions.event_ts"]
