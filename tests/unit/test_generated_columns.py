"""Columns and TTL a macro generated (config.meta.fw_generated) under the YAML's: the YAML wins."""
from __future__ import annotations

from featurewarehouse.registry.records import node_columns, view_ttl


def _col(name: str, description: str) -> dict:
    return {"name": name, "description": description, "data_type": "bigint",
            "config": {"meta": {"fw": {"feature": True}}}}


def _node(columns: dict, generated: dict) -> dict:
    return {"name": "v", "columns": columns, "config": {"meta": {"fw": {}, "fw_generated": generated}}}


def test_yaml_columns_then_generated_ones_where_a_yaml_entry_replaces_its_generated_one() -> None:
    node = _node({"b": _col("b", "yaml"), "key": _col("key", "yaml only")},
                 {"columns": {"a": _col("a", "gen"), "b": _col("b", "gen"), "c": _col("c", "gen")}})
    cols = node_columns(node)
    assert list(cols) == ["key", "a", "b", "c"]  # the generated (feature) order is kept
    assert [c["description"] for c in cols.values()] == ["yaml only", "gen", "yaml", "gen"]


def test_no_generated_metadata_leaves_the_yaml_columns() -> None:
    node = {"name": "v", "columns": {"x": _col("x", "yaml")}, "config": {"meta": {"fw": {}}}}
    assert node_columns(node) == {"x": _col("x", "yaml")}
    assert view_ttl(node, {}) is None


def test_the_yaml_ttl_wins_even_when_null() -> None:
    node = _node({}, {"ttl": "30d"})
    assert view_ttl(node, {}) == "30d"
    assert view_ttl(node, {"ttl": "2h"}) == "2h"
    assert view_ttl(node, {"ttl": None}) is None
