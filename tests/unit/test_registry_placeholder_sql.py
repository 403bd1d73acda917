"""Raw SQL approximated without compiled code: macros in expression and in type position."""
from __future__ import annotations

from featurewarehouse.registry.sql import Relations, parse, placeholder_render

MANIFEST = {"nodes": {}, "sources": {"source.p.raw.transactions": {
    "source_name": "raw", "name": "transactions", "relation_name": '"db"."raw"."transactions"'}}}


def node(sql: str) -> dict:
    return {"name": "stg", "raw_code": sql, "depends_on": {"nodes": ["source.p.raw.transactions"]}}


def test_a_type_macro_in_a_cast_stays_parseable_sql():
    sql = ("select cast(amount as {{ featurewarehouse.fw_type_double() }}) / {{ rate('currency') }} as usd, "
           "amount::{{ dbt.type_float() }} as f from {{ source('raw', 'transactions') }}")
    text = placeholder_render(node(sql), MANIFEST, Relations(MANIFEST))
    assert "cast(amount as fw_jinja_featurewarehouse_fw_type_double)" in text
    assert "amount::fw_jinja_dbt_type_float" in text
    assert "'{{ rate(''currency'') }}'" in text  # an expression macro stays a literal
    tree = parse(text, "duckdb")
    assert tree is not None and not isinstance(tree, str)
