"""Parity: the fast column resolver and sqlglot's qualify + lineage give the same answers."""
from __future__ import annotations

import copy

import pytest
from registry_support import manifest

from featurewarehouse.registry.analysis import Graph, analyze_models
from featurewarehouse.registry.resolve import resolve
from featurewarehouse.registry.sql import ModelSql, Relations, analyze, inline_named_windows, parse

SCHEMA = {
    '"stg_t"': {"customer_id": "bigint", "merchant_id": "bigint", "event_ts": "timestamp", "amount": "double",
                "transaction_id": "bigint"},
    '"stg_m"': {"merchant_id": "bigint", "risk": "double", "created_at": "timestamp"},
    '"stg_c"': {"transaction_id": "bigint", "reported_at": "timestamp", "merchant_id": "bigint"},
}

SUPPORTED = {
    "plain": "select customer_id, amount * 2 as double_amount from \"stg_t\"",
    "cte_star": "with t as (select * from \"stg_t\") select * from t",
    "cte_chain_windows": (
        "with t as (select customer_id, event_ts, amount from \"stg_t\"),\n"
        "w as (select customer_id, event_ts,\n"
        "  sum(amount) over (partition by customer_id order by event_ts rows between 3 preceding and current row) as s\n"
        "  from t)\nselect customer_id, event_ts, s as amount_sum_4 from w"),
    "named_window": (
        "select customer_id, event_ts, count(*) over w as n, avg(amount) over w as a from \"stg_t\"\n"
        "window w as (partition by customer_id order by event_ts)"),
    "join_qualified": (
        "select t.customer_id, t.event_ts, m.risk, t.amount / m.risk as ratio\n"
        "from \"stg_t\" as t left join \"stg_m\" as m on m.merchant_id = t.merchant_id"),
    "join_unqualified_unique_names": (
        "select customer_id, event_ts, risk from \"stg_t\" t join \"stg_m\" m on m.merchant_id = t.merchant_id"),
    "subquery_in_from": (
        "select x.customer_id, x.total from (select customer_id, sum(amount) as total from \"stg_t\" "
        "group by customer_id) as x"),
    "table_star_of_join": (
        "select t.*, m.risk from \"stg_t\" t join \"stg_m\" m on m.merchant_id = t.merchant_id"),
    "case_and_coalesce": (
        "with j as (select t.merchant_id, t.event_ts, case when c.reported_at <= t.event_ts then 1 else 0 end as is_cb\n"
        "from \"stg_t\" t left join \"stg_c\" c on c.transaction_id = t.transaction_id)\n"
        "select merchant_id, event_ts, coalesce(avg(is_cb) over (partition by merchant_id order by event_ts), 0) as r "
        "from j"),
    "constant_and_count": "select customer_id, 1 as one, count(*) over () as n from \"stg_t\"",
}

UNSUPPORTED = {
    "union": "select customer_id from \"stg_t\" union all select merchant_id from \"stg_m\"",
    "scalar_subquery": "select customer_id, (select max(risk) from \"stg_m\") as top from \"stg_t\"",
    "ambiguous": "select merchant_id from \"stg_t\" t join \"stg_m\" m on m.merchant_id = t.merchant_id",
    "using": "select merchant_id, risk from \"stg_t\" join \"stg_m\" using (merchant_id)",
    "unknown_star": "select * from \"source:raw.x\"",
    "table_function": "select * from read_parquet('x.parquet')",
}


def both(sql: str, schema=SCHEMA):
    fast, slow = ModelSql("m", text=sql), ModelSql("m", text=sql)
    fast.tree, _, _ = parse(sql, "duckdb")
    slow.tree, _, _ = parse(sql, "duckdb")
    analyze(fast, copy.deepcopy(schema), "duckdb", fast=True)
    analyze(slow, copy.deepcopy(schema), "duckdb", fast=False)
    return fast, slow


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_fast_path_is_used_and_agrees(name):
    tree, _, _ = parse(SUPPORTED[name], "duckdb")
    assert resolve(inline_named_windows(tree), SCHEMA) is not None
    fast, slow = both(SUPPORTED[name])
    assert fast.outputs == slow.outputs
    assert fast.lineage == slow.lineage


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_shapes_fall_back(name):
    tree, _, _ = parse(UNSUPPORTED[name], "duckdb")
    assert resolve(inline_named_windows(tree), SCHEMA) is None


def test_expected_lineage_of_a_join():
    fast, _ = both(SUPPORTED["join_qualified"])
    assert fast.outputs == ("customer_id", "event_ts", "risk", "ratio")
    assert fast.lineage["ratio"] == ["stg_m.risk", "stg_t.amount"]


def test_fixture_manifest_models_agree(monkeypatch):
    import featurewarehouse.registry.analysis as analysis_mod

    m = manifest()
    rel, graph = Relations(m), Graph(m)
    views = [u for u in m["nodes"] if "features" in u]

    def run():
        return analyze_models(views, m, None, rel, graph, "duckdb", None, {}, {}, {"analysed": 0, "cached": 0})

    fast = run()
    monkeypatch.setattr(analysis_mod, "analyze", lambda model, schema, dialect: analyze(model, schema, dialect, fast=False))
    slow = run()
    assert sorted(fast) == sorted(slow) and len(fast) == 4  # 2 views + 2 staging models
    for uid in fast:
        assert (fast[uid].outputs, fast[uid].lineage) == (slow[uid].outputs, slow[uid].lineage), uid
