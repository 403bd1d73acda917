"""Core modules: errors, refs, config precedence, registry records."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from featurewarehouse.config import load_config
from featurewarehouse.errors import ConfigError, FwError, MetadataError, Problem, ProblemsError, redact
from featurewarehouse.refs import FeatureRef, did_you_mean
from featurewarehouse.registry.model import Entity, Feature, FeatureView, JoinKey, Registry, parse_ttl


def test_redact_hides_passwords_in_every_url():
    text = "redis://u:pw@h:1/0 and postgresql://postgres:secret@db:5432/test"
    assert redact(text) == "redis://u:***@h:1/0 and postgresql://postgres:***@db:5432/test"
    err = FwError("cannot reach rediss://:tok@host/0", where="--store rediss://:tok@host/0", hint="x")
    assert "tok" not in str(err)


def test_error_renders_what_where_hint():
    err = FwError("bad ttl", where="models/features/x.yml: x", hint="write 30d")
    assert str(err) == "bad ttl\nat: models/features/x.yml: x\nhint: write 30d"


def test_problems_error_lists_every_problem():
    err = ProblemsError([Problem("a", where="f1"), Problem("b", hint="h")], summary="registry is invalid")
    assert str(err).splitlines() == ["registry is invalid: 2", "- a", "  at: f1", "- b", "  hint: h"]


@pytest.mark.parametrize("text", ["view", ":f", "view:", "a:b:c", ""])
def test_malformed_refs_are_rejected(text):
    with pytest.raises(ConfigError, match="malformed feature reference"):
        FeatureRef.parse(text)


def test_ref_parse_and_wildcard():
    assert FeatureRef.parse(" v:* ").is_wildcard
    assert str(FeatureRef.parse("v:f")) == "v:f"


def test_did_you_mean():
    assert "txn_count_7d" in did_you_mean("txn_cont_7d", ["txn_count_7d", "amount"])
    assert did_you_mean("zzz", ["txn_count_7d"]) == ""


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("90m", 5400), ("12h", 43200), ("30d", 2592000), ("2w", 1209600), (None, None)]
)
def test_parse_ttl(text, seconds):
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["30", "0d", "-1d", "30 days", "1y", "d30"])
def test_parse_ttl_rejects_malformed(text):
    with pytest.raises(MetadataError, match="malformed ttl"):
        parse_ttl(text, where="models/features/x.yml")


def _project(tmp_path: Path, online_store: str = "sqlite:///data/online.db") -> Path:
    (tmp_path / "dbt_project.yml").write_text(
        textwrap.dedent(
            f"""
            name: featurewarehouse
            vars:
              fw:
                online_store: {online_store}
                feature_log_path: "{{{{ env_var('FW_DATA_DIR', 'data') }}}}/feature_logs"
            """
        )
    )
    return tmp_path


def test_config_precedence_flag_over_env_over_project(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.delenv("FW_ONLINE_STORE", raising=False)
    monkeypatch.delenv("FW_DATA_DIR", raising=False)
    cfg = load_config(root)
    assert cfg.online_store == f"sqlite:///{root}/data/online.db"  # relative to the project
    assert cfg.feature_log_path == root / "data" / "feature_logs"
    monkeypatch.setenv("FW_ONLINE_STORE", "redis://127.0.0.1:6379/3")
    assert load_config(root).online_store == "redis://127.0.0.1:6379/3"
    assert load_config(root, online_store="redis://h:1/0").online_store == "redis://h:1/0"
    monkeypatch.setenv("FW_DATA_DIR", "/elsewhere")
    assert load_config(root).feature_log_path == Path("/elsewhere/feature_logs")


def test_config_finds_project_upwards_and_fails_clearly(tmp_path):
    root = _project(tmp_path)
    (root / "models" / "features").mkdir(parents=True)
    assert load_config(root / "models" / "features").project_dir == root.resolve()
    with pytest.raises(ConfigError, match="no dbt_project.yml"):
        load_config(Path("/"))


def _registry() -> Registry:
    key = JoinKey("customer_id", "bigint")
    feats = (Feature("txn_count_7d", "spend", "bigint"), Feature("amount_sum_7d", "spend", "double"))
    view = FeatureView(
        name="spend", relation='"main"."spend"', entities=("customer",), join_keys=(key,),
        timestamp="event_ts", features=feats, ttl_seconds=86400, online=True, tags=("payments",),
    )
    return Registry(entities=(Entity("customer", (key,)),), feature_views=(view,), version="abc")


def test_registry_roundtrip_and_resolve():
    reg = _registry()
    again = Registry.from_dict(reg.to_dict())
    assert again == reg
    assert [f.ref for f in reg.resolve(["spend:*"])] == ["spend:txn_count_7d", "spend:amount_sum_7d"]
    assert [f.ref for f in reg.resolve(["spend:amount_sum_7d", "spend:*"])] == ["spend:amount_sum_7d", "spend:txn_count_7d"]


def test_registry_lookup_errors_suggest():
    reg = _registry()
    with pytest.raises(ConfigError, match="did you mean 'spend'"):
        reg.view("spendd")
    with pytest.raises(ConfigError, match="did you mean 'txn_count_7d'"):
        reg.resolve(["spend:txn_count_7"])
    with pytest.raises(ConfigError, match="requested twice"):
        reg.resolve(["spend:txn_count_7d", "spend:txn_count_7d"])
    with pytest.raises(ConfigError, match="schema version"):
        Registry.from_dict({**reg.to_dict(), "schema_version": 99})
