"""Registry build from fixture manifests: contents, every validation error, change list, atomic write."""
from __future__ import annotations

import json
import os

import pytest
from registry_support import ENTITIES, SERVICES, LABELS, RISK, SPEND, STG, add_column, fw, manifest, project

from featurewarehouse.config import load_config
from featurewarehouse.errors import ProblemsError
from featurewarehouse.registry import Registry, load_registry
from featurewarehouse.registry.builder import build_from_manifest, build_registry

SPEND_YML = "models/features/customer_spend_features.yml"


def build(m, feature_services=SERVICES, **kw):
    return build_from_manifest(m, ENTITIES, feature_services=feature_services, built_at="2026-01-01T00:00:00+00:00",
                               **kw)


def svc(features: list) -> dict:
    """vars.fw.feature_services with the training set's service listing ``features``."""
    return {"fraud_model": {"features": features}}


def problems_of(m, **kw) -> list:
    with pytest.raises(ProblemsError) as info:
        build(m, **kw)
    return info.value.problems


# ---- contents --------------------------------------------------------------------
def test_contents_of_a_clean_build():
    result = build(manifest())
    reg = result.registry
    assert result.warnings == []
    assert [e.name for e in reg.entities] == ["customer", "merchant"]
    assert [v.name for v in reg.feature_views] == ["customer_spend_features", "merchant_risk_features"]
    spend = reg.view("customer_spend_features")
    assert spend.relation == '"wh"."main"."customer_spend_features"'
    assert spend.entities == ("customer",)
    assert [(k.name, k.dtype) for k in spend.join_keys] == [("customer_id", "bigint")]
    assert spend.timestamp == "event_ts"
    assert spend.ttl_seconds == 30 * 86400
    assert spend.online is True and spend.owner == "risk-ml" and spend.tags == ("fraud", "payments")
    assert [(f.name, f.dtype) for f in spend.features] == [("txn_count_7d", "bigint"), ("amount_sum_7d", "double")]
    assert spend.feature("txn_count_7d").checks == {"min": 0, "not_null": True}
    assert spend.upstream == ("source:raw.transactions", "stg_transactions")
    assert spend.downstream == ("fraud_training_set",)
    assert len(spend.fingerprint) == 16
    assert [(m.name, m.kind) for m in reg.models] == [("fraud_labels", "label"), ("fraud_training_set", "training_set")]
    training = reg.model("fraud_training_set")
    assert training.features == ("customer_spend_features:*", "merchant_risk_features:chargeback_rate_90d")
    assert reg.used_by("customer_spend_features", "amount_sum_7d") == ("fraud_training_set",)
    assert reg.model_sql["customer_spend_features"]["origin"] == "rendered"
    assert '"stg_transactions"' in reg.model_sql["customer_spend_features"]["sql"]


def test_build_is_deterministic_and_round_trips():
    a = build(manifest()).registry
    b = build(manifest()).registry
    assert a.version == b.version and a.to_dict() == b.to_dict()
    again = Registry.from_dict(json.loads(json.dumps(a.to_dict())))
    assert again == a
    assert again.column_lineage == a.column_lineage and again.model_sql == a.model_sql


def test_version_changes_with_a_definition_only():
    base = build(manifest()).registry.version
    m = manifest()
    m["nodes"][SPEND]["columns"]["txn_count_7d"]["description"] = "changed"
    assert build(m).registry.version != base
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = "\n\n" + m["nodes"][SPEND]["raw_code"].replace("    ", "\t")
    assert build(m).registry.version == base


# ---- each validation error, with file, model and column ----------------------------
def test_unknown_entity_with_did_you_mean():
    m = manifest()
    fw(m, SPEND)["entity"] = "custmer"
    [p] = problems_of(m)
    assert p.message == "feature view 'customer_spend_features' names unknown entity 'custmer'. did you mean 'customer'?"
    assert p.where == f"{SPEND_YML}: customer_spend_features.config.meta.fw.entity"


def test_missing_timestamp_declaration():
    m = manifest()
    del fw(m, SPEND)["timestamp"]
    [p] = problems_of(m)
    assert p.message == "feature view 'customer_spend_features' declares no timestamp column"
    assert p.where == f"{SPEND_YML}: customer_spend_features.config.meta.fw.timestamp"


def test_timestamp_column_not_selected():
    m = manifest()
    fw(m, SPEND)["timestamp"] = "feature_ts"
    [p] = problems_of(m)
    assert p.message.startswith(
        "timestamp column 'feature_ts' is not produced by the model's SELECT of 'customer_spend_features'.")


def test_missing_join_key_column():
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace("    customer_id,\n", "", 1)
    [p] = problems_of(m)
    assert p.message.startswith(
        "join key of entity 'customer' 'customer_id' is not produced by the model's SELECT of 'customer_spend_features'")


def test_declared_feature_not_produced_by_select():
    m = manifest()
    add_column(m, SPEND, "txn_count_30d")
    [p] = problems_of(m)
    assert p.message == ("declared feature 'txn_count_30d' is not produced by the model's SELECT of "
                         "'customer_spend_features'. did you mean 'txn_count_7d'?")
    assert p.where == f"{SPEND_YML}: customer_spend_features.columns.txn_count_30d"


def test_select_star_is_expanded_from_upstream_models():
    # merchant_risk selects named columns; make it select * from a CTE over stg_transactions
    m = manifest()
    m["nodes"][RISK]["raw_code"] = (
        "with t as (select * from {{ ref('stg_transactions') }})\n"
        "select *, 0.0 as chargeback_rate_90d from t")
    reg = build(m).registry
    assert reg.view("merchant_risk_features").features[0].name == "chargeback_rate_90d"
    add_column(m, RISK, "not_there", data_type="double")
    [p] = problems_of(m)
    assert "declared feature 'not_there' is not produced" in p.message


def _catalog(types: dict[str, str]) -> dict:
    return {"nodes": {SPEND: {"columns": {
        name: {"name": name, "type": t, "index": i} for i, (name, t) in enumerate(types.items(), 1)}}}}


def test_type_mismatch_against_the_catalog():
    cat = _catalog({"customer_id": "BIGINT", "event_ts": "TIMESTAMP", "txn_count_7d": "VARCHAR",
                    "amount_sum_7d": "DOUBLE"})
    [p] = problems_of(manifest(), catalog=cat)
    assert p.message == "feature customer_spend_features:txn_count_7d is declared bigint but the warehouse has VARCHAR"
    assert p.where == f"{SPEND_YML}: customer_spend_features.columns.txn_count_7d.data_type"


def test_same_type_family_is_not_a_mismatch():
    # DuckDB's count(*) is BIGINT, sum(double) DOUBLE; HUGEINT for bigint differs in width only
    cat = _catalog({"customer_id": "BIGINT", "event_ts": "TIMESTAMP WITH TIME ZONE", "txn_count_7d": "HUGEINT",
                    "amount_sum_7d": "DECIMAL(18,2)"})
    assert build(manifest(), catalog=cat).registry.view("customer_spend_features")


def test_join_key_type_mismatch_against_entity():
    cat = _catalog({"customer_id": "VARCHAR", "event_ts": "TIMESTAMP", "txn_count_7d": "BIGINT",
                    "amount_sum_7d": "DOUBLE"})
    [p] = problems_of(manifest(), catalog=cat)
    assert p.message == "join key 'customer_id' of 'customer_spend_features' is VARCHAR (in the warehouse) but entity 'customer' declares bigint"


class _CountedColumns(dict):
    """A catalog entry's ``columns`` that counts how often the build reads them."""

    def __init__(self, *a):
        super().__init__(*a)
        self.reads = 0

    def items(self):
        self.reads += 1
        return super().items()


def test_catalog_columns_are_read_once_per_model():
    # stg_transactions feeds both views (the analysis asks once per child); the views'
    # own entries serve their records (produced columns and types): one read each
    def columns(types):
        return _CountedColumns({n: {"name": n, "type": t} for n, t in types.items()})

    cols = {
        STG: columns({"transaction_id": "BIGINT", "customer_id": "BIGINT", "merchant_id": "BIGINT",
                      "amount": "DOUBLE", "event_ts": "TIMESTAMP"}),
        SPEND: columns({"customer_id": "BIGINT", "event_ts": "TIMESTAMP", "txn_count_7d": "BIGINT",
                        "amount_sum_7d": "DOUBLE"}),
        RISK: columns({"merchant_id": "BIGINT", "chargeback_rate_90d": "DOUBLE"}),
    }
    build(manifest(), catalog={"nodes": {uid: {"columns": c} for uid, c in cols.items()}})
    assert {uid: c.reads for uid, c in cols.items()} == {STG: 1, SPEND: 1, RISK: 1}


def test_duplicate_feature_refs_in_a_training_set():
    [p] = problems_of(manifest(), feature_services=svc(
        ["customer_spend_features:*", "customer_spend_features:txn_count_7d"]))
    # the ref rules (refs.expand_refs): an explicit feature already covered by view:* is listed twice
    assert p.message == ("feature service 'fraud_model': feature 'customer_spend_features:txn_count_7d' "
                         "is requested twice")
    assert p.where == "dbt_project.yml: vars.fw.feature_services.fraud_model.features"


def test_malformed_ttl():
    m = manifest()
    fw(m, SPEND)["ttl"] = "30 days"
    [p] = problems_of(m)
    assert p.message == "malformed ttl '30 days'"
    assert p.where == f"{SPEND_YML}: customer_spend_features.config.meta.fw.ttl"
    assert "30d" in p.hint


def test_training_set_unknown_feature_did_you_mean():
    p1, p2 = problems_of(manifest(), feature_services=svc(
        ["customer_spend_features:txn_count_7", "merchant_risk_feature:chargeback_rate_90d"]))
    assert p1.message == ("feature service 'fraud_model': feature view 'customer_spend_features' has no feature"
                          " 'txn_count_7'. did you mean 'txn_count_7d'?")
    assert p2.message == ("feature service 'fraud_model': unknown feature view 'merchant_risk_feature'."
                          " did you mean 'merchant_risk_features'?")


def test_unknown_kind():
    m = manifest()
    fw(m, LABELS)["kind"] = "labels"
    [p] = problems_of(m)
    assert p.message == "model 'fraud_labels' has kind 'labels'"


def test_every_problem_is_reported_at_once():
    m = manifest()
    fw(m, SPEND)["ttl"] = "soon"
    fw(m, RISK)["entity"] = "merch"
    add_column(m, SPEND, "ghost")
    problems = problems_of(m, feature_services=svc(["customer_spend_features:nope"]))
    assert len(problems) == 4
    text = str(ProblemsError(problems, summary="the registry was not written; problems found"))
    assert text.startswith("the registry was not written; problems found: 4\n- malformed ttl 'soon'")


def test_model_with_other_jinja_is_built_with_a_warning():
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = "{% set days = 7 %}\n" + m["nodes"][SPEND]["raw_code"]
    result = build(m)
    assert result.warnings == [
        "customer_spend_features: no SQL to check (compiled code missing and raw code uses Jinja blocks); "
        "run `fwctl registry build --compile`"]
    assert result.registry.view("customer_spend_features").fingerprint == ""
    # compiled code (dbt compile/build) is then used, de-qualified
    m["nodes"][SPEND]["compiled_code"] = build(manifest()).registry.model_sql["customer_spend_features"]["sql"] \
        .replace('"stg_transactions"', '"wh"."main"."stg_transactions"')
    m["nodes"][STG]["relation_name"] = '"wh"."main"."stg_transactions"'
    reg = build(m).registry
    assert reg.model_sql["customer_spend_features"]["origin"] == "compiled"
    assert reg.view("customer_spend_features").fingerprint == build(manifest()).registry.view(
        "customer_spend_features").fingerprint


def test_previous_compiled_code_is_reused_while_the_file_is_unchanged():
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = "{% set days = 7 %}\n" + m["nodes"][SPEND]["raw_code"]
    old = {"nodes": {SPEND: {"checksum": m["nodes"][SPEND]["checksum"],
                             "compiled_code": build(manifest()).registry.model_sql["customer_spend_features"]["sql"]}}}
    calls = []

    def loader():
        calls.append(1)
        return old

    reg = build(m, previous_manifest=loader).registry
    assert reg.model_sql["customer_spend_features"]["origin"] == "previous-compiled"
    assert calls == [1]  # read lazily, once
    m["nodes"][SPEND]["checksum"] = {"name": "sha256", "checksum": "changed"}
    result = build(m, previous_manifest=old)
    assert "customer_spend_features" not in result.registry.model_sql
    assert build(manifest(), previous_manifest=loader) and calls == [1]  # not needed: not read


def test_jinja_expressions_are_approximated_as_literals():
    m = manifest()
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace(
        "interval 7 days", "interval {{ var('days', 7) }} days")
    result = build(m)
    assert result.warnings == [
        "customer_spend_features: SQL approximated (Jinja expressions kept as literals; no compiled code): "
        "run `fwctl registry build --compile` for exact lineage and fingerprint"]
    assert result.registry.model_sql["customer_spend_features"]["origin"] == "approximate"
    assert "interval '{{ var(''days'', 7) }}' days" in result.registry.model_sql["customer_spend_features"]["sql"]
    # still checked: a declared feature the SELECT lacks is found
    add_column(m, SPEND, "missing_one")
    [p] = problems_of(m)
    assert p.message.startswith("declared feature 'missing_one' is not produced by the model's SELECT")


def test_source_without_declared_columns_still_traces():
    m = manifest()
    for col in list(m["sources"]["source.mini.raw.transactions"]["columns"]):
        del m["sources"]["source.mini.raw.transactions"]["columns"][col]
    m["nodes"][STG]["raw_code"] = (
        "with source as (select * from {{ source('raw', 'transactions') }}),\n"
        "dedup as (select *, row_number() over (partition by transaction_id order by txn_ts) as n from source)\n"
        "select transaction_id, customer_id, merchant_id, amount, txn_ts as event_ts from dedup where n = 1")
    reg = build(m).registry
    assert reg.column_lineage["stg_transactions"]["amount"] == ["source:raw.transactions.amount"]
    assert reg.column_lineage["stg_transactions"]["event_ts"] == ["source:raw.transactions.txn_ts"]


# ---- change list -------------------------------------------------------------------
def as_file_json(reg):
    from featurewarehouse.registry.builder import plain

    return json.loads(json.dumps(plain(reg), default=str))


def test_previous_file_is_compared_as_json_only_in_its_exact_shape(tmp_path):
    from featurewarehouse.registry.builder import read_previous_data

    reg = build(manifest()).registry
    path = tmp_path / "fw_registry.json"
    path.write_text(json.dumps(as_file_json(reg)))
    assert isinstance(read_previous_data(path), dict)
    data = as_file_json(reg)
    data["feature_views"][0]["features"][0]["extra"] = 1  # Registry.from_dict cannot read it: no previous
    path.write_text(json.dumps(data))
    assert read_previous_data(path) is None
    data = as_file_json(reg)
    del data["feature_views"][0]["upstream"]  # from_dict fills the default: a Registry, compared as before
    path.write_text(json.dumps(data))
    assert isinstance(read_previous_data(path), Registry)
    path.write_text("{not json")
    assert read_previous_data(path) is None


def test_change_list_against_the_previous_registry():
    before = build(manifest()).registry
    m = manifest()
    add_column(m, SPEND, "txn_count_1d", description="Transactions in the last day.")
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace(
        "from txns", ",\n    count(*) over (partition by customer_id order by event_ts "
        "range between interval 1 day preceding and current row) as txn_count_1d\nfrom txns")
    m["nodes"][RISK]["raw_code"] = m["nodes"][RISK]["raw_code"].replace("interval 90 days", "interval 60 days")
    m["nodes"][RISK]["columns"]["chargeback_rate_90d"]["data_type"] = "float"
    only_spend = svc(["customer_spend_features:*"])
    after = build(m, previous=before, feature_services=only_spend).registry
    # the previous registry as its file's JSON (what build_registry passes) gives the same change list
    assert build(m, previous=as_file_json(before), feature_services=only_spend).registry.changes == after.changes
    assert after.changes == {
        "previous_version": before.version,
        "views": {"added": [], "removed": [], "changed": [
            {"name": "customer_spend_features", "fields": ["fingerprint", "features"]},
            {"name": "merchant_risk_features", "fields": ["fingerprint"]},
        ]},
        "features": {"added": ["customer_spend_features:txn_count_1d"], "removed": [],
                     "changed": [{"ref": "merchant_risk_features:chargeback_rate_90d", "fields": ["dtype"]}]},
        "models": {"added": [], "removed": [], "changed": ["fraud_training_set"]},
    }


def test_change_list_added_and_removed_views():
    before = build(manifest()).registry
    m = manifest()
    del m["nodes"][RISK]
    only_spend = svc(["customer_spend_features:*"])
    for k in ("parent_map", "child_map"):
        m[k].pop(RISK, None)
        for v in m[k].values():
            if RISK in v:
                v.remove(RISK)
    after = build(m, previous=before, feature_services=only_spend).registry
    assert build(m, previous=as_file_json(before), feature_services=only_spend).registry.changes == after.changes
    assert after.changes["views"] == {"added": [], "removed": ["merchant_risk_features"], "changed": []}
    assert after.changes["features"]["removed"] == ["merchant_risk_features:chargeback_rate_90d"]
    back = build(manifest(), previous=after).registry
    assert back.changes["views"]["added"] == ["merchant_risk_features"]
    assert back.version == before.version


# ---- files: build_registry, atomic write, load_registry -------------------------------
@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    return project(tmp_path)


def test_build_registry_writes_and_load_reads(proj):
    config = load_config(proj)
    result = build_registry(config, dbt_command=None)
    assert result.written == proj / "target" / "fw_registry.json"
    data = json.loads(result.written.read_text())
    assert data["schema_version"] == 1 and data["version"] == result.registry.version
    assert load_registry(config) == result.registry
    assert Registry.load(proj).version == result.registry.version
    assert not list((proj / "target").glob(".fw_registry.*"))


def test_failed_build_leaves_the_old_file_untouched(proj):
    config = load_config(proj)
    build_registry(config, dbt_command=None)
    old = config.registry_path.read_bytes()
    bad = manifest()
    fw(bad, SPEND)["entity"] = "nobody"
    config.manifest_path.write_text(json.dumps(bad))
    with pytest.raises(ProblemsError):
        build_registry(config, dbt_command=None)
    assert config.registry_path.read_bytes() == old
    assert not list((proj / "target").glob(".fw_registry.*"))


def test_crash_while_writing_leaves_the_old_file_and_no_temp(proj, monkeypatch):
    config = load_config(proj)
    build_registry(config, dbt_command=None)
    old = config.registry_path.read_bytes()
    m = manifest()
    add_column(m, SPEND, "txn_count_7d_copy")
    m["nodes"][SPEND]["raw_code"] = m["nodes"][SPEND]["raw_code"].replace(
        "as txn_count_7d,", "as txn_count_7d,\n    1 as txn_count_7d_copy,")
    config.manifest_path.write_text(json.dumps(m))

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        build_registry(config, dbt_command=None)
    assert config.registry_path.read_bytes() == old
    assert not list((proj / "target").glob(".fw_registry.*"))


def test_load_registry_without_a_file(proj):
    from featurewarehouse.errors import ConfigError

    config = load_config(proj)
    with pytest.raises(ConfigError, match="registry not found") as info:
        load_registry(config, build_if_missing=False)
    assert info.value.hint == "run `fwctl registry build`"
    build_registry(config, dbt_command=None)
    assert load_registry(config, build_if_missing=False).view("merchant_risk_features").ttl_seconds == 90 * 86400


# ---- analysis cache ------------------------------------------------------------------
def test_cache_gives_the_same_registry_and_reanalyses_only_changes():
    cold = build(manifest())
    assert cold.stats == {"analysed": 4, "cached": 0}  # 2 views + 2 staging models
    warm = build(manifest(), cache=cold.cache)
    assert warm.stats == {"analysed": 0, "cached": 4}
    assert warm.registry.to_dict() == cold.registry.to_dict()
    m = manifest()
    m["nodes"][RISK]["raw_code"] = m["nodes"][RISK]["raw_code"].replace("interval 90 days", "interval 60 days")
    changed = build(m, cache=warm.cache)
    assert changed.stats == {"analysed": 1, "cached": 3}
    assert changed.registry.view("merchant_risk_features").fingerprint != cold.registry.view(
        "merchant_risk_features").fingerprint
    assert build(m, cache={"version": 0, "models": changed.cache["models"]}).stats["cached"] == 0


def test_upstream_column_change_invalidates_downstream_entries():
    cold = build(manifest())
    m = manifest()
    # stg_transactions gains a column: the views reading it see a new input schema
    m["nodes"][STG]["raw_code"] = m["nodes"][STG]["raw_code"].replace("amount,", "amount,\n    1 as extra,")
    assert build(m, cache=cold.cache).stats == {"analysed": 3, "cached": 1}


def test_build_registry_keeps_the_cache_file(proj):
    config = load_config(proj)
    first = build_registry(config, dbt_command=None)
    assert first.stats["analysed"] == 4
    assert json.loads((proj / "target" / "fw_registry_cache.json").read_text())["version"] == 2
    second = build_registry(config, dbt_command=None)
    assert second.stats == {"analysed": 0, "cached": 4}
    (proj / "target" / "fw_registry_cache.json").write_text("{not json")
    assert build_registry(config, dbt_command=None).stats["analysed"] == 4


def test_plain_is_asdict():
    from featurewarehouse.registry.builder import plain

    result = build(manifest())
    as_json = json.loads(json.dumps(result.registry.to_dict()))
    assert json.loads(json.dumps(plain(result.registry))) == as_json
    assert json.loads(json.dumps(result.data)) == as_json


def test_load_registry_refreshes_after_dbt_wrote_a_newer_manifest(proj):
    config = load_config(proj)
    build_registry(config, dbt_command=None)
    m = manifest()
    fw(m, SPEND)["ttl"] = "14d"
    config.manifest_path.write_text(json.dumps(m))
    old = config.registry_path.stat().st_mtime
    os.utime(config.manifest_path, (old + 10, old + 10))  # dbt build ran after the registry was built
    assert load_registry(config, refresh=False).view("customer_spend_features").ttl_seconds == 30 * 86400
    fresh = load_registry(config)
    assert fresh.view("customer_spend_features").ttl_seconds == 14 * 86400
    assert fresh.changes["views"]["changed"] == [{"name": "customer_spend_features", "fields": ["ttl_seconds"]}]
    assert Registry.read(config.registry_path).version == fresh.version  # written, so read next time
    os.utime(config.registry_path, (old + 20, old + 20))
    assert load_registry(config).version == fresh.version


@pytest.mark.parametrize("data", [
    {"a": [1, 2.5, 1e-05, 2.5e-07, 1e16, True, None], "b": {"z": 1, "y": "x\x7f\x01\n\"\\"}},
    {"a": "café", "b": [1e-3, 0.00001]},
    {"nan": float("nan"), "inf": [float("inf")]},
    {"keys": {1: "one", "2": "two"}},
    {"big": 2 ** 70, "when": __import__("datetime").datetime(2026, 1, 2, 3, 4, 5), "t": ("x", "y")},
    {"plain": {"b": ["v1", "v2"], "a": {"min": 0, "max": 1.5}}, "version": ""},
])
def test_compact_json_is_json_dumps_byte_for_byte(data):
    from featurewarehouse.registry.builder import _dumps_compact

    for sort_keys in (False, True):
        try:
            want = json.dumps(data, sort_keys=sort_keys, separators=(",", ":"), default=str).encode()
        except TypeError:  # json cannot sort int and str keys together: neither may the fast path
            with pytest.raises(TypeError):
                _dumps_compact(data, sort_keys=sort_keys)
            continue
        assert _dumps_compact(data, sort_keys=sort_keys) == want
