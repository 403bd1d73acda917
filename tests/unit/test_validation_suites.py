"""Suite generation from manifest metadata: merge keeps hand-written, idempotent, errors name the file."""
from __future__ import annotations

import json

import pytest

from featurewarehouse.errors import ConfigError, MetadataError
from featurewarehouse.validation import suites

ENTITIES = {
    "customer": {"join_keys": [{"name": "customer_id", "dtype": "bigint"}]},
    "merchant": {"join_keys": [{"name": "merchant_id", "dtype": "bigint"}]},
}


def _node(name, fw=None, columns=(), folder="features", materialized="table"):
    return {
        "resource_type": "model",
        "package_name": "featurewarehouse",
        "name": name,
        "alias": name,
        "schema": "main",
        "relation_name": f'"wh"."main"."{name}"',
        "original_file_path": f"models/{folder}/{name}.sql",
        "checksum": {"name": "sha256", "checksum": f"sum-{name}"},
        "config": {"materialized": materialized, "meta": {"fw": fw} if fw else {}},
        "columns": {
            c["name"]: {"name": c["name"], "data_type": c.get("data_type"),
                        "config": {"meta": {"fw": c["fw"]} if c.get("fw") else {}}}
            for c in columns
        },
    }


def _manifest():
    nodes = [
        _node("stg_tx", columns=[{"name": "id", "data_type": "bigint", "fw": {"checks": {"unique": True}}}],
              folder="staging", materialized="view"),
        _node(
            "cm_features",
            fw={"kind": "feature_view", "entity": ["customer", "merchant"], "timestamp": "event_ts",
                "freshness": {"max_age": "2d"}},
            columns=[
                {"name": "customer_id", "data_type": "bigint"},
                {"name": "merchant_id", "data_type": "bigint"},
                {"name": "event_ts", "data_type": "timestamp"},
                {"name": "spend", "data_type": "double",
                 "fw": {"feature": True, "checks": {"not_null": True, "min": 0, "mean": {"max": 500},
                                                    "quantiles": {0.99: [None, 5000], 0.5: [1, 100]}}}},
                {"name": "channel", "data_type": "varchar",
                 "fw": {"feature": True, "checks": {"accepted_values": ["web", "pos"], "regex": "^[a-z]+$"}}},
                {"name": "geom", "data_type": "geometry"},
            ],
        ),
        _node("feature_log", fw={"kind": "feature_log"}, columns=[{"name": "request_id", "data_type": "varchar"}],
              folder="feature_logs"),
        _node("eph", materialized="ephemeral"),
    ]
    other = _node("pkg_model")
    other["package_name"] = "dbt_utils"
    nodes.append(other)
    return {
        "metadata": {"project_name": "featurewarehouse"},
        "nodes": {f"model.{n['package_name']}.{n['name']}": n for n in nodes},
    }


def _specs():
    return suites.specs_from_manifest(_manifest(), ENTITIES)


def test_every_materialized_model_of_the_project_gets_a_spec():
    assert sorted(s.name for s in _specs()) == ["cm_features", "feature_log", "stg_tx"]


def test_generated_expectations_for_a_feature_view():
    spec = {s.name: s for s in _specs()}["cm_features"]
    exps = suites.generate_expectations(spec)
    assert all(e["meta"]["fw_generated"] is True for e in exps)
    types = [(e["type"], e["kwargs"].get("column")) for e in exps]
    assert types[0] == ("expect_table_row_count_to_be_between", None)
    assert ("expect_column_values_to_not_be_null", "spend") in types
    assert ("expect_column_to_exist", "geom") in types
    assert ("expect_column_values_to_be_in_type_list", "geom") not in types  # unknown type: presence only
    by = {(e["type"], e["kwargs"].get("column")): e["kwargs"] for e in exps}
    assert by[("expect_column_values_to_be_between", "spend")] == {"column": "spend", "min_value": 0, "max_value": None}
    assert by[("expect_column_mean_to_be_between", "spend")] == {"column": "spend", "min_value": None, "max_value": 500}
    assert by[("expect_column_quantile_values_to_be_between", "spend")]["quantile_ranges"] == {
        "quantiles": [0.5, 0.99], "value_ranges": [[1, 100], [None, 5000]]}
    assert by[("expect_column_values_to_be_in_set", "channel")]["value_set"] == ["web", "pos"]
    assert by[("expect_column_values_to_match_regex", "channel")]["regex"] == "^[a-z]+$"
    assert "BIGINT" in by[("expect_column_values_to_be_in_type_list", "customer_id")]["type_list"]
    key = [e for e in exps if e["type"] == "unexpected_rows_expectation"]
    assert len(key) == 1 and key[0]["meta"]["fw_label"] == "unique_key(customer_id, merchant_id, event_ts)"
    assert 'group by "customer_id", "merchant_id", "event_ts" having count(*) > 1' in key[0]["kwargs"]["unexpected_rows_query"]
    assert by[("expect_column_max_to_be_between", "event_ts")]["min_value"] == {"$PARAMETER": "fw_fresh_after_172800s"}


def test_feature_log_may_be_empty_and_staging_gets_no_compound_key():
    specs = {s.name: s for s in _specs()}
    log_types = [e["type"] for e in suites.generate_expectations(specs["feature_log"])]
    assert "expect_table_row_count_to_be_between" not in log_types
    stg_types = [e["type"] for e in suites.generate_expectations(specs["stg_tx"])]
    assert stg_types[0] == "expect_table_row_count_to_be_between"
    assert "expect_column_values_to_be_unique" in stg_types
    assert "unexpected_rows_expectation" not in stg_types


def test_regeneration_keeps_hand_written_and_is_idempotent(tmp_path):
    specs = _specs()
    first = suites.write_suites(tmp_path, specs)
    assert {c.status for c in first} == {"created"}
    path = tmp_path / "expectations" / "cm_features.json"
    data = json.loads(path.read_text())
    hand = {"type": "expect_column_values_to_be_between", "kwargs": {"column": "spend", "max_value": 9999},
            "meta": {"owner": "risk"}, "id": "kept-id"}
    data["expectations"].insert(1, hand)  # anywhere in the file
    data["notes"] = "hand notes"
    path.write_text(json.dumps(data))
    second = {c.model: c for c in suites.write_suites(tmp_path, specs)}
    assert second["cm_features"].status == "updated" and second["cm_features"].hand_written == 1
    assert second["stg_tx"].status == "unchanged"
    after = json.loads(path.read_text())
    assert after["expectations"][-1] == hand and after["notes"] == "hand notes"
    before_text = path.read_text()
    third = suites.write_suites(tmp_path, specs)
    assert {c.status for c in third} == {"unchanged"}
    assert path.read_text() == before_text


def test_regeneration_replaces_generated_when_yaml_changes(tmp_path):
    manifest = _manifest()
    suites.write_suites(tmp_path, suites.specs_from_manifest(manifest, ENTITIES))
    col = manifest["nodes"]["model.featurewarehouse.cm_features"]["columns"]["spend"]
    col["config"]["meta"]["fw"]["checks"] = {"max": 10}
    suites.write_suites(tmp_path, suites.specs_from_manifest(manifest, ENTITIES))
    exps = json.loads((tmp_path / "expectations" / "cm_features.json").read_text())["expectations"]
    spend = [(e["type"], e["kwargs"]) for e in exps if e["kwargs"].get("column") == "spend"]
    assert ("expect_column_values_to_be_between", {"column": "spend", "min_value": None, "max_value": 10}) in spend
    assert not any(t == "expect_column_values_to_not_be_null" for t, _ in spend)


def test_malformed_suite_names_the_file_and_writes_nothing(tmp_path):
    specs = _specs()
    folder = tmp_path / "expectations"
    folder.mkdir()
    (folder / "cm_features.json").write_text('{"name": "cm_features", "expectations": [\n  {"type": }\n]}')
    with pytest.raises(MetadataError) as err:
        suites.write_suites(tmp_path, specs)
    assert "cm_features.json:2" in str(err.value) and "not valid JSON" in str(err.value)
    assert sorted(p.name for p in folder.iterdir()) == ["cm_features.json"]  # nothing half-written

    (folder / "cm_features.json").write_text('{"expectations": [{"type": "expect x", "kwargs": {}}]}')
    with pytest.raises(MetadataError) as err:
        suites.read_suite(folder / "cm_features.json")
    assert "cm_features.json: expectations[0]" in str(err.value)


def test_a_failed_write_leaves_the_suite_as_it_was(tmp_path, monkeypatch):
    manifest = _manifest()
    suites.write_suites(tmp_path, suites.specs_from_manifest(manifest, ENTITIES))
    folder = tmp_path / "expectations"
    before = {p.name: p.read_text() for p in folder.iterdir()}
    manifest["nodes"]["model.featurewarehouse.cm_features"]["columns"]["spend"]["config"]["meta"]["fw"]["checks"] = {
        "max": 10}

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        suites.write_suites(tmp_path, suites.specs_from_manifest(manifest, ENTITIES))
    assert {p.name: p.read_text() for p in folder.iterdir()} == before  # no temp file left behind


def test_bad_metadata_errors_say_where():
    manifest = _manifest()
    col = manifest["nodes"]["model.featurewarehouse.cm_features"]["columns"]["spend"]
    col["config"]["meta"]["fw"]["checks"] = {"not_nul": True}
    with pytest.raises(MetadataError) as err:
        suites.specs_from_manifest(manifest, ENTITIES)
    assert "not_nul" in str(err.value) and "cm_features.columns.spend" in str(err.value)
    manifest = _manifest()
    manifest["nodes"]["model.featurewarehouse.cm_features"]["config"]["meta"]["fw"]["entity"] = "shop"
    with pytest.raises(MetadataError, match="unknown entity 'shop'"):
        suites.specs_from_manifest(manifest, ENTITIES)


def test_select_unknown_model_suggests():
    with pytest.raises(ConfigError, match="did you mean 'cm_features'"):
        suites.select_specs(_specs(), ["cm_feature"])
    assert [s.name for s in suites.select_specs(_specs(), ["stg_tx"])] == ["stg_tx"]


def test_orphan_suites_are_found(tmp_path):
    suites.write_suites(tmp_path, _specs())
    (tmp_path / "expectations" / "gone.json").write_text("{}")
    assert [p.name for p in suites.orphan_suites(tmp_path, _specs())] == ["gone.json"]


def test_generated_suites_load_in_great_expectations(tmp_path):
    import great_expectations as gx

    gx.get_context(mode="ephemeral")
    suites.write_suites(tmp_path, _specs())
    for path in sorted((tmp_path / "expectations").glob("*.json")):
        suite = gx.ExpectationSuite(**json.loads(path.read_text()))
        assert suite.name == path.stem
        assert len(suite.expectations) == len(json.loads(path.read_text())["expectations"])
        for exp in suite.expectations:
            assert exp.meta.get("fw_generated") is True


def test_models_built_from_the_feature_log_may_be_empty_unless_told_otherwise():
    manifest = _manifest()
    served = _node("served_set", fw={"kind": "training_set"}, folder="training")
    served["depends_on"] = {"nodes": ["model.featurewarehouse.feature_log"]}
    strict = _node("strict_set", fw={"kind": "training_set", "allow_empty": False}, folder="training")
    strict["depends_on"] = {"nodes": ["model.featurewarehouse.served_set"]}
    for n in (served, strict):
        manifest["nodes"][f"model.featurewarehouse.{n['name']}"] = n
    specs = {s.name: s for s in suites.specs_from_manifest(manifest, ENTITIES)}
    assert specs["served_set"].allow_empty and specs["feature_log"].allow_empty
    assert not specs["strict_set"].allow_empty and not specs["cm_features"].allow_empty


def _cli_project(tmp_path, monkeypatch):
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    monkeypatch.delenv("FW_TARGET", raising=False)
    (tmp_path / "dbt_project.yml").write_text(
        "name: featurewarehouse\nprofile: featurewarehouse\nvars:\n  fw:\n    entities:\n"
        "      customer: {join_keys: [{name: customer_id, dtype: bigint}]}\n"
        "      merchant: {join_keys: [{name: merchant_id, dtype: bigint}]}\n"
    )
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(_manifest()))
    return tmp_path


def test_validate_without_suites_fails_the_coverage_gate(tmp_path, monkeypatch, capsys):
    from featurewarehouse.cli.main import main

    project = _cli_project(tmp_path, monkeypatch)
    code = main(["validate", "--json", "--no-docs", "--project-dir", str(project)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["summary"]["missing_suites"] == 3 and not out["success"]
    assert all("fwctl expectations generate --select" in m["error"] for m in out["models"])
    latest = json.loads((project / "target" / "fw_validation" / "latest.json").read_text())
    assert set(latest["models"]) == {"cm_features", "feature_log", "stg_tx"}


def test_validate_with_a_malformed_suite_is_a_configuration_error(tmp_path, monkeypatch, capsys):
    from featurewarehouse.cli.main import main

    project = _cli_project(tmp_path, monkeypatch)
    assert main(["expectations", "generate", "--no-parse", "--json", "--project-dir", str(project)]) == 0
    (project / "expectations" / "stg_tx.json").write_text("{not json")
    capsys.readouterr()
    code = main(["validate", "--project-dir", str(project)])
    err = "".join(capsys.readouterr().err.split())  # rich wraps long paths anywhere
    assert code == 2
    assert "expectations/stg_tx.json:1:2" in err and "notvalidJSON" in err
