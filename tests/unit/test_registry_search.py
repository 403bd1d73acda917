"""Ranked keyword search over names, descriptions, tags, owners and column names."""
from __future__ import annotations

import pytest
from registry_support import ENTITIES, SERVICES, manifest

from featurewarehouse.registry.builder import build_from_manifest
from featurewarehouse.registry.search import search


@pytest.fixture(scope="module")
def reg():
    return build_from_manifest(manifest(), ENTITIES, feature_services=SERVICES).registry


def refs(reg, q, **kw):
    return [h.ref for h in search(reg, q, **kw)]


def test_exact_feature_name_ranks_first(reg):
    hits = search(reg, "txn_count_7d")
    assert hits[0].ref == "customer_spend_features:txn_count_7d"
    assert hits[0].score > hits[1].score


def test_name_beats_description_beats_columns(reg):
    # "chargeback": in the feature's name, the risk view's description, nowhere in the spend view
    assert refs(reg, "chargeback") == ["merchant_risk_features:chargeback_rate_90d", "merchant_risk_features"]
    # "amount": name of amount_sum_7d, a lineage column of nothing else... and in descriptions
    assert refs(reg, "amount")[0] == "customer_spend_features:amount_sum_7d"


def test_more_terms_matched_rank_first(reg):
    # "fraud" is a tag of every view and feature; "merchant" names only the risk view (and its feature's view)
    hits = search(reg, "fraud merchant")
    assert [h.ref for h in hits][:2] == ["merchant_risk_features", "merchant_risk_features:chargeback_rate_90d"]
    assert hits[0].score == 15.0 and hits[1].score == 9.0  # name 10 + tag 5; view 4 + tag 5
    assert {h.ref for h in hits[2:]} == {"customer_spend_features", "customer_spend_features:amount_sum_7d",
                                         "customer_spend_features:txn_count_7d"}
    assert all(h.score == 5.0 for h in hits[2:])


def test_owner_tag_and_prefix(reg):
    assert set(refs(reg, "risk-ml")) == {
        "customer_spend_features", "customer_spend_features:amount_sum_7d", "customer_spend_features:txn_count_7d",
        "merchant_risk_features", "merchant_risk_features:chargeback_rate_90d"}
    assert refs(reg, "payments") == ["customer_spend_features:amount_sum_7d", "customer_spend_features:txn_count_7d",
                                     "customer_spend_features"]
    assert refs(reg, "charge")[0] == "merchant_risk_features:chargeback_rate_90d"


def test_lineage_column_names_are_searchable(reg):
    # reported_at is only an upstream column of chargeback_rate_90d
    [hit] = [h for h in search(reg, "reported_at") if h.kind == "feature"]
    assert hit.ref == "merchant_risk_features:chargeback_rate_90d"
    assert hit.matched == ("columns", "description")
    # merchant_id is a column of the risk view and, upstream, of its feature: never of the spend view
    assert refs(reg, "merchant_id")[:2] == ["merchant_risk_features", "merchant_risk_features:chargeback_rate_90d"]


def test_no_match_and_limit(reg):
    assert search(reg, "zzz nothing") == []
    assert search(reg, "   ") == []
    assert len(search(reg, "risk", limit=2)) == 2
