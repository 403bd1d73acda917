"""Metadata that was misread silently (issue 20) is refused by the registry build with file, model, column and fix.

Each case: a change to the fixture project, and the problem it must raise.
Types come from dbt's catalog when there is one, else from the warehouse
(one information_schema query, see registry/warehouse_types.py), else from
the YAML data_type: the last cases run without any catalog.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from registry_support import ENTITIES, SERVICES, SPEND, fw, manifest, project

from featurewarehouse.config import load_config
from featurewarehouse.errors import ProblemsError
from featurewarehouse.registry.builder import build_from_manifest, build_registry

YML = "models/features/customer_spend_features.yml"


def col(m, name):
    return m["nodes"][SPEND]["columns"][name]


def mark_feature(m, name, value=True):
    col(m, name).setdefault("config", {}).setdefault("meta", {})["fw"] = {"feature": value}


CASES = [
    # (id, change, message, where, hint)
    ("key_type_from_yaml", lambda m: col(m, "customer_id").update(data_type="varchar"),
     "join key 'customer_id' of 'customer_spend_features' is varchar (its declared data_type) but entity "
     "'customer' declares bigint", "customer_spend_features.columns.customer_id", "cast(customer_id as bigint)"),
    ("timestamp_is_text", lambda m: col(m, "event_ts").update(data_type="varchar"),
     "timestamp column 'event_ts' of 'customer_spend_features' is varchar (its declared data_type), "
     "not a timestamp or date", "customer_spend_features.columns.event_ts", "cast(event_ts as timestamp)"),
    ("online_yes", lambda m: fw(m, SPEND).update(online="yes"),
     "config.meta.fw.online must be a YAML boolean (true or false), got 'yes'",
     "customer_spend_features.config.meta.fw.online", "write config.meta.fw.online: true (no quotes)"),
    ("online_false_string", lambda m: fw(m, SPEND).update(online="false"),
     "config.meta.fw.online must be a YAML boolean (true or false), got 'false'",
     "customer_spend_features.config.meta.fw.online", "write config.meta.fw.online: false (no quotes)"),
    ("feature_string_true", lambda m: mark_feature(m, "txn_count_7d", "true"),
     "config.meta.fw.feature must be a YAML boolean (true or false), got 'true'",
     "customer_spend_features.columns.txn_count_7d", "true (no quotes)"),
    ("feature_named_like_the_key", lambda m: mark_feature(m, "customer_id"),
     "feature column 'customer_id' of 'customer_spend_features' is the join key 'customer_id'",
     "customer_spend_features.columns.customer_id", "remove config.meta.fw.feature"),
    ("feature_named_like_the_timestamp", lambda m: mark_feature(m, "event_ts"),
     "feature column 'event_ts' of 'customer_spend_features' is the view's timestamp",
     "customer_spend_features.columns.event_ts", "remove config.meta.fw.feature"),
]


@pytest.mark.parametrize(("change", "message", "where", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_misread_metadata_is_refused(change, message, where, hint):
    m = manifest()
    change(m)
    with pytest.raises(ProblemsError) as exc:
        build_from_manifest(m, ENTITIES, feature_services=SERVICES)
    [p] = exc.value.problems
    assert p.message.startswith(message), p.message
    assert p.where.startswith(f"{YML}: {where}"), p.where
    assert hint in p.hint


def test_the_catalog_type_wins_over_the_yaml():
    cat = {"nodes": {SPEND: {"columns": {"customer_id": {"type": "VARCHAR"}}}}}
    with pytest.raises(ProblemsError) as exc:
        build_from_manifest(manifest(), ENTITIES, feature_services=SERVICES, catalog=cat)
    [p] = exc.value.problems
    assert "is VARCHAR (in the warehouse)" in p.message


def test_online_false_keeps_the_view_offline():
    m = manifest()
    fw(m, SPEND)["online"] = False
    assert not build_from_manifest(m, ENTITIES, feature_services=SERVICES).registry.view("customer_spend_features").online


def _project_with_warehouse(tmp_path: Path, key_type: str) -> Path:
    import duckdb

    root = project(tmp_path)
    (root / "profiles.yml").write_text(
        "mini:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: wh.duckdb}\n")
    con = duckdb.connect(str(root / "wh.duckdb"))
    con.execute(f"create table customer_spend_features (customer_id {key_type}, event_ts timestamp, "
                "txn_count_7d bigint, amount_sum_7d double)")
    con.close()
    return root


def test_key_type_is_read_from_the_warehouse_without_a_catalog(tmp_path):
    # the YAML says bigint, the built table holds VARCHAR keys: only the warehouse knows
    root = _project_with_warehouse(tmp_path, "varchar")
    assert not (root / "target" / "catalog.json").exists()
    with pytest.raises(ProblemsError) as exc:
        build_registry(load_config(root), dbt_command=None, write=False)
    [p] = exc.value.problems
    assert p.message.startswith("join key 'customer_id' of 'customer_spend_features' is VARCHAR (in the warehouse)")


def test_a_matching_warehouse_builds_without_a_types_warning(tmp_path):
    root = _project_with_warehouse(tmp_path, "bigint")
    result = build_registry(load_config(root), dbt_command=None, write=False)
    assert not [w for w in result.warnings if "column types not read" in w]
