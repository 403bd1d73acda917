"""Analysis shared by models of one SQL shape: same outcome as analysing each model alone."""
from __future__ import annotations

import pytest

from featurewarehouse.registry.analysis import analyze_one
from featurewarehouse.registry.fingerprint import fingerprint_tokens
from featurewarehouse.registry.shapes import ShapeCache, digest
from featurewarehouse.registry.sql import ModelSql, analyze, parse, tokenize

COLS = {"customer_id": "bigint", "event_ts": "timestamp", "amount": "double"}


def view_sql(i: int) -> str:
    """The benchmark's shape: CTEs, windows, names with the view's number in them."""
    return (f"-- view {i}\nwith events as (select customer_id, event_ts, amount from \"stg_events_{i % 3}\" "
            f"where amount is not null), final as (select customer_id, event_ts, "
            f"sum(amount * {1 + i % 2}) over (partition by customer_id order by event_ts "
            f"range between interval '7 days' preceding and current row) as f{i}_sum_0, "
            f"count(*) over (partition by customer_id order by event_ts) as f{i}_count_1 "
            f"from events) select * from final")


def alone(text: str, schema: dict) -> ModelSql:
    m = ModelSql(name="m", text=text)
    m.tree, m.fingerprint, m.error = parse(text, "duckdb")
    analyze(m, schema, "duckdb")
    m.tree = None
    return m


def shared(texts_and_schemas: list[tuple[str, dict]]) -> tuple[list[ModelSql], int]:
    cache = ShapeCache()
    out = []
    for text, schema in texts_and_schemas:
        m = ModelSql(name="m", text=text)
        analyze_one(m, schema, "duckdb", cache)
        out.append(m)
    return out, cache.hits


def assert_same(got: ModelSql, want: ModelSql) -> None:
    assert (got.outputs, got.lineage, got.fingerprint, got.error) == \
        (want.outputs, want.lineage, want.fingerprint, want.error)


def test_generated_views_share_one_analysis_and_match_analysing_each():
    cases = [(view_sql(i), {f'"stg_events_{i % 3}"': COLS}) for i in range(8)]
    got, hits = shared(cases)
    assert hits == 6  # two shapes (the multiplier 1 or 2 is a number: part of the shape), 8 views
    for m, (text, schema) in zip(got, cases):
        assert_same(m, alone(text, schema))
    assert got[5].outputs == ("customer_id", "event_ts", "f5_sum_0", "f5_count_1")
    assert got[5].lineage["f5_sum_0"] == ["stg_events_2.amount", "stg_events_2.customer_id",
                                          "stg_events_2.event_ts"]
    assert len({m.fingerprint for m in got}) == 8


def test_a_differing_name_without_a_digit_is_not_renamed():
    schema = {'"t1"': COLS}
    got, hits = shared([("select v.amount as total from t1 as v", schema),
                        ("select w.amount as total from t1 as w", schema)])
    assert hits == 0  # v -> w could be a word the parser reads by its text
    assert got[1].lineage == {"total": ["t1.amount"]}
    got, hits = shared([("select v1.amount as total from t1 as v1", schema),
                        ("select w2.amount as total from t1 as w2", schema)])
    assert hits == 1
    assert got[1].lineage == {"total": ["t1.amount"]}


def test_a_differing_function_is_another_shape():
    got, hits = shared([("select sum(a1) as x1 from t1", {'"t1"': {"a1": "double"}}),
                        ("select max(a2) as x2 from t2", {'"t2"': {"a2": "double"}}),
                        ("select sum(a2) as x2 from t2", {'"t2"': {"a2": "double"}}),
                        # the input has a1 and a2: renaming a1 -> a2 would not be one-to-one
                        ("select sum(a2) as x2 from t3", {'"t3"': {"a1": "double", "a2": "double"}})])
    assert hits == 1  # only the third: sum() again, names renamed
    assert got[2].outputs == ("x2",) and got[2].lineage == {"x2": ["t2.a2"]}
    assert got[3].lineage == {"x2": ["t3.a2"]}


def test_inputs_with_other_columns_are_another_shape():
    got, hits = shared([("select * from s1", {'"s1"': {"c1": "int", "c2": "int"}}),
                        ("select * from s2", {'"s2"': {"c3": "int"}}),
                        ("select * from s3", {'"s3"': {"c1": "int", "c2": "int"}})])
    assert hits == 1  # s3 has s1's columns
    assert got[1].outputs == ("c3",) and got[1].lineage == {"c3": ["s2.c3"]}
    assert got[2].outputs == ("c1", "c2") and got[2].lineage == {"c1": ["s3.c1"], "c2": ["s3.c2"]}


def test_a_parse_error_is_not_shared():
    got, hits = shared([("select a1 from t1 where", {}), ("select a2 from t2 where", {})])
    assert hits == 0 and all(m.error for m in got)


@pytest.mark.parametrize("sql", [
    "select a as b, 'x' as \"Q 1\", 1.5 from t -- c", "SELECT  A  B FROM T", view_sql(3),
    "select x::int, y <> 2, z != 3 from t where w in (select 1)",
])
def test_digest_fingerprint_is_the_token_fingerprint(sql):
    tokens, _ = tokenize(sql, "duckdb")
    assert digest(tokens)[0] == fingerprint_tokens(tokens)
