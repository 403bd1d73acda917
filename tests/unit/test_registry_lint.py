"""Leak lint: each rule with a leaking and a clean example, with exact lines."""
from __future__ import annotations

import pytest
from registry_support import ENTITIES, SERVICES, SPEND, manifest

from featurewarehouse.registry.builder import build_from_manifest
from featurewarehouse.registry.lint import lint_registry, lint_sql

HEAD = "select customer_id, event_ts,\n"


def rules(sql: str, **kw) -> list[tuple[str, int | None, str]]:
    kw.setdefault("timestamp", "event_ts")
    return [(f.rule, f.line, f.severity) for f in lint_sql(sql, model="v", **kw)]


CASES = {
    # rule: (leaking SQL, line of the finding, clean SQL)
    "FW001": (
        HEAD + "  lead(amount) over (partition by customer_id order by event_ts) as next_amount\nfrom t",
        2,
        HEAD + "  lag(amount) over (partition by customer_id order by event_ts) as prev_amount\nfrom t",
    ),
    "FW002": (
        HEAD + "  sum(amount) over (partition by customer_id order by event_ts\n"
               "    rows between current row and 2 following) as s\nfrom t",
        2,
        HEAD + "  sum(amount) over (partition by customer_id order by event_ts\n"
               "    rows between 2 preceding and current row) as s\nfrom t",
    ),
    "FW003": (
        HEAD + "\n  row_number() over (partition by customer_id order by amount desc) as rank_by_amount\nfrom t",
        3,
        HEAD + "\n  row_number() over (partition by customer_id order by event_ts) as nth_txn\nfrom t",
    ),
    "FW004": (
        HEAD + "  l.is_fraud as prior_fraud\nfrom t\njoin \"fraud_labels\" l on l.customer_id = t.customer_id",
        4,
        HEAD + "  m.risk as prior_fraud\nfrom t\njoin \"stg_merchants\" m on m.customer_id = t.customer_id",
    ),
    "FW005": (
        HEAD + "  avg(amount) over (partition by customer_id) as avg_amount\nfrom t",
        2,
        HEAD + "  avg(amount) over (partition by customer_id order by event_ts) as avg_amount\nfrom t",
    ),
    "FW006": (
        "with totals as (\n  select customer_id, count(*) as n\n  from t\n  group by customer_id\n)\n"
        "select t.customer_id, t.event_ts, totals.n\nfrom t join totals using (customer_id)",
        4,
        "with totals as (\n  select customer_id, event_ts, count(*) as n\n  from t\n  group by customer_id, event_ts\n)\n"
        "select t.customer_id, t.event_ts, totals.n\nfrom t join totals using (customer_id, event_ts)",
    ),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_leaking_and_clean(rule):
    leaking, line, clean = CASES[rule]
    severity = "warning" if rule in ("FW003", "FW006") else "error"
    assert rules(leaking, label_models=["fraud_labels"]) == [(rule, line, severity)]
    assert rules(clean, label_models=["fraud_labels"]) == []


def test_lag_with_negative_offset_is_a_lead():
    assert rules(HEAD + "  lag(amount, -1) over (partition by customer_id order by event_ts) as x\nfrom t") == [
        ("FW001", 2, "error")]


def test_zero_following_is_the_current_row():
    assert rules(HEAD + "  sum(amount) over (partition by customer_id order by event_ts "
                        "rows between 3 preceding and 0 following) as s\nfrom t") == []


def test_window_ordered_by_an_upstream_name_of_the_timestamp_is_clean():
    sql = ("with t2 as (\n  select customer_id, txn_ts,\n"
           "    count(*) over (partition by customer_id order by txn_ts) as n\n  from t\n)\n"
           "select customer_id, txn_ts as event_ts, n from t2")
    assert rules(sql) == [("FW003", 3, "warning")]
    assert rules(sql, time_columns=["txn_ts"]) == []


def test_group_by_not_per_entity_is_clean_when_keys_are_known():
    sql = ("with per_request as (\n  select request_id, max(customer_id) as customer_id, count(*) as n\n  from t\n"
           "  group by request_id\n)\nselect * from per_request")
    assert rules(sql) == [("FW006", 4, "warning")]  # keys unknown: any whole-history aggregate
    assert rules(sql, entity_keys=["customer_id"]) == []
    assert rules(CASES["FW006"][0], entity_keys=["customer_id"]) == [("FW006", 4, "warning")]


def test_time_bounded_group_by_is_clean():
    sql = ("with cb as (\n  select t.transaction_id, count(*) as n\n  from t join c on c.merchant_id = t.merchant_id\n"
           "   and c.reported_at <= t.event_ts\n  group by t.transaction_id\n)\nselect * from cb")
    assert rules(sql) == []


def test_named_windows_are_resolved():
    sql = (HEAD + "  count(*) over w as n,\n  avg(amount) over whole as a,\n"
           "  sum(amount) over (w rows between current row and 1 following) as s\nfrom t\n"
           "window w as (partition by customer_id order by event_ts),\n       whole as (partition by customer_id)")
    assert rules(sql) == [("FW005", 3, "error"), ("FW002", 4, "error")]


def test_positional_group_by_with_a_time_item_is_clean():
    sql = ("with d as (\n  select customer_id, date_trunc('day', event_ts) as visible_at, count(*) as n\n"
           "  from t\n  group by 1, 2\n)\nselect * from d")
    assert rules(sql) == []
    assert rules(sql.replace("group by 1, 2", "group by 1").replace(", date_trunc('day', event_ts) as visible_at", "")
                 ) == [("FW006", 4, "warning")]


def test_suppression_comment():
    leaking = CASES["FW001"][0].replace("as next_amount", "as next_amount -- fw-lint: ignore=FW001")
    assert rules(leaking) == []
    other = CASES["FW001"][0].replace("as next_amount", "as next_amount -- fw-lint: ignore=FW003")
    assert rules(other) == [("FW001", 2, "error")]


def test_finding_names_model_construct_and_message():
    [f] = lint_sql(CASES["FW005"][0], model="customer_spend_features", timestamp="event_ts",
                   file="models/features/customer_spend_features.sql")
    assert (f.model, f.file, f.line) == ("customer_spend_features", "models/features/customer_spend_features.sql", 2)
    assert f.construct == "AVG(amount) OVER (PARTITION BY customer_id)"
    assert f.message.startswith("aggregate over the whole partition")


def test_registry_lint_on_fixture_views():
    reg = build_from_manifest(manifest(), ENTITIES, feature_services=SERVICES).registry
    assert lint_registry(reg) == ([], [])
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace(
        "range between interval 7 days preceding and current row", "rows between unbounded preceding and 1 following")
    findings, skipped = lint_registry(build_from_manifest(m, ENTITIES, feature_services=SERVICES).registry)
    assert skipped == []
    # both windows leak; lines are the model file's lines (config block and comment lines count)
    assert [(f.model, f.rule, f.line) for f in findings] == [
        ("customer_spend_features", "FW002", 10), ("customer_spend_features", "FW002", 14)]
    assert findings[0].file == "models/features/customer_spend_features.sql"


def test_registry_lint_reads_label_models_and_unknown_view():
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace(
        "    select * from {{ ref('stg_transactions') }}",
        "    select s.* from {{ ref('stg_transactions') }} s\n"
        "    join {{ ref('fraud_labels') }} l on l.transaction_id = s.transaction_id")
    m["nodes"][SPEND]["depends_on"]["nodes"].append("model.mini.fraud_labels")
    reg = build_from_manifest(m, ENTITIES, feature_services=SERVICES).registry
    findings, _ = lint_registry(reg, ["customer_spend_features"])
    assert [(f.rule, f.line, f.construct) for f in findings] == [("FW004", 5, '"fraud_labels" AS l')]
    from featurewarehouse.errors import ConfigError

    with pytest.raises(ConfigError, match="did you mean 'customer_spend_features'"):
        lint_registry(reg, ["customer_spend_feature"])


def test_a_window_after_a_per_entity_group_by_still_flags_the_group_by():
    # the window's ORDER BY keys once shadowed the entity keys, and lint crashed here
    sql = ("with agg as (select customer_id, sum(amount) s from t group by customer_id) "
           "select customer_id, ts, sum(s) over (partition by customer_id order by ts) f from agg")
    assert [(f.rule, f.line) for f in lint_sql(sql, model="v", timestamp="ts", entity_keys=["customer_id"])] == [
        ("FW006", 1)]
