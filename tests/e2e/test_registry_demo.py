"""An analyst adds a feature model and its YAML to (a copy of) the demo, rebuilds the
registry, and finds the new features in `features list`, `search`, the change list,
lineage and lint, all through `fwctl` (dbt parse runs in-process)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from demo_project import copy_demo_project

from featurewarehouse.cli.main import main

pytestmark = pytest.mark.slow


NEW_SQL = """\
-- How fast a customer spends: time since their previous transaction, and the
-- largest amount among their last five, as of each transaction.
with transactions as (

    select customer_id, event_ts, amount_usd
    from {{ ref('stg_transactions') }}

),

final as (

    select
        customer_id,
        event_ts,
        date_diff('second', lag(event_ts) over (partition by customer_id order by event_ts), event_ts)
            as seconds_since_prev_txn,
        max(amount_usd) over (
            partition by customer_id order by event_ts
            rows between 4 preceding and current row
        ) as max_amount_last_5
    from transactions

)

select * from final
"""

NEW_YML = """\
version: 2
models:
  - name: customer_velocity_features
    description: Spending velocity of a customer, as of each of their transactions.
    config:
      tags: [payments, velocity]
      meta:
        owner: growth-analytics
        fw:
          kind: feature_view
          entity: customer
          timestamp: event_ts
          ttl: 7d
          online: true
    columns:
      - name: seconds_since_prev_txn
        description: Seconds since the customer's previous transaction (null for the first).
        data_type: bigint
        config:
          meta: {fw: {feature: true, checks: {min: 0}}}
      - name: max_amount_last_5
        description: Largest amount in USD among the customer's last five transactions.
        data_type: double
        config:
          meta: {fw: {feature: true, checks: {min: 0}}}
"""

LEAKY_SQL = """\
select
    customer_id,
    event_ts,
    lead(amount_usd) over (partition by customer_id order by event_ts) as next_amount
from {{ ref('stg_transactions') }}
"""


@pytest.fixture
def demo(tmp_path, monkeypatch) -> Path:
    dst = copy_demo_project(tmp_path / "project")
    for var in ("FW_TARGET", "FW_PROJECT_DIR", "FW_PROFILES_DIR", "DBT_TARGET_PATH", "FW_ONLINE_STORE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FW_DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    monkeypatch.setenv("FW_DATA_DIR", str(tmp_path / "data"))
    from featurewarehouse.cli import output

    monkeypatch.setattr(output.console, "width", 240)  # tables on one line each, as on a wide terminal
    monkeypatch.setattr(output.err_console, "width", 240)
    return dst


def fwctl(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_analyst_adds_a_feature_view(demo, capsys):
    p = ["--project-dir", str(demo)]
    code, out, err = fwctl(capsys, "registry", "build", "--json", *p)
    assert code == 0, err
    first = json.loads(out)
    assert first["changes"]["previous_version"] is None
    demo_views = {"customer_spend_features", "merchant_risk_features", "customer_profile_features",
                  "customer_merchant_features"}
    assert demo_views <= set(first["changes"]["views"]["added"])  # the demo may grow more views
    registry_file = demo / "target" / "fw_registry.json"
    assert json.loads(registry_file.read_text())["version"] == first["version"]

    code, out, _ = fwctl(capsys, "lint", "--json", *p)
    assert code == 0 and [f for f in json.loads(out)["findings"] if f["severity"] == "error"] == []

    # the analyst's change: one SQL file and its YAML
    (demo / "models" / "features" / "customer_velocity_features.sql").write_text(NEW_SQL)
    (demo / "models" / "features" / "customer_velocity_features.yml").write_text(NEW_YML)
    code, out, err = fwctl(capsys, "registry", "build", "--json", *p)
    assert code == 0, err
    second = json.loads(out)
    assert second["changes"]["previous_version"] == first["version"]
    assert second["changes"]["views"] == {"added": ["customer_velocity_features"], "removed": [], "changed": []}
    assert second["changes"]["features"]["added"] == [
        "customer_velocity_features:seconds_since_prev_txn", "customer_velocity_features:max_amount_last_5"]
    assert second["feature_views"] == first["feature_views"] + 1

    code, out, _ = fwctl(capsys, "registry", "build", *p)  # readable change list: nothing new now
    assert code == 0 and "registry " in out

    code, out, _ = fwctl(capsys, "features", "list", "--owner", "growth-analytics", "--json", *p)
    assert code == 0
    assert [r["ref"] for r in json.loads(out)] == [
        "customer_velocity_features:seconds_since_prev_txn", "customer_velocity_features:max_amount_last_5"]
    code, out, _ = fwctl(capsys, "features", "list", "--tag", "velocity", *p)
    assert code == 0 and "customer_velocity_features" in out

    code, out, _ = fwctl(capsys, "features", "search", "velocity", "--json", *p)
    hits = json.loads(out)
    assert {h["ref"] for h in hits[:3]} == {"customer_velocity_features", "customer_velocity_features:max_amount_last_5",
                                            "customer_velocity_features:seconds_since_prev_txn"}
    code, out, _ = fwctl(capsys, "features", "search", "seconds since previous", "--json", *p)
    assert json.loads(out)[0]["ref"] == "customer_velocity_features:seconds_since_prev_txn"

    code, out, _ = fwctl(capsys, "lineage", "customer_velocity_features:max_amount_last_5", "--json", *p)
    assert code == 0
    tree = json.loads(out)
    assert [f"{q['model']}.{q['column']}" for q in tree["parents"]] == [
        "stg_transactions.amount_usd", "stg_transactions.customer_id", "stg_transactions.event_ts"]
    assert "source:raw.transactions.amount" in tree["source_columns"]
    assert "source:raw.transactions.event_ts" in tree["source_columns"]

    code, out, _ = fwctl(capsys, "features", "show", "customer_velocity_features", "--json", *p)
    shown = json.loads(out)
    assert shown["upstream"] == ["source:raw.transactions", "stg_transactions"]
    assert shown["ttl"] == "7d" and len(shown["fingerprint"]) == 16
    code, out, _ = fwctl(capsys, "features", "show", "customer_velocity_features:seconds_since_prev_txn", *p)
    assert code == 0 and "source:raw.transactions.event_ts" in out

    code, out, _ = fwctl(capsys, "lint", "--json", *p)
    assert code == 0

    # the fast column resolver and sqlglot's qualify + lineage agree on every demo model
    import featurewarehouse.registry.analysis as analysis_mod
    from featurewarehouse.registry.sql import Relations, analyze

    manifest = json.loads((demo / "target" / "manifest.json").read_text())
    views = [u for u, n in manifest["nodes"].items() if "/features/" in n.get("original_file_path", "")]

    def run():
        return analysis_mod.analyze_models(views, manifest, None, Relations(manifest), analysis_mod.Graph(manifest),
                                           "duckdb", None, {}, {}, {"analysed": 0, "cached": 0})

    fast = run()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analysis_mod, "analyze", lambda model, schema, dialect: analyze(model, schema, dialect, fast=False))
        slow = run()
    assert len(fast) >= 9  # 5 demo views + the new one + staging models
    for uid in fast:
        assert (fast[uid].outputs, fast[uid].lineage) == (slow[uid].outputs, slow[uid].lineage), uid


def test_errors_are_reported_at_once_and_nothing_is_written(demo, capsys):
    p = ["--project-dir", str(demo)]
    assert fwctl(capsys, "registry", "build", *p)[0] == 0
    registry_file = demo / "target" / "fw_registry.json"
    before = registry_file.read_bytes()
    (demo / "models" / "features" / "customer_velocity_features.sql").write_text(NEW_SQL)
    (demo / "models" / "features" / "customer_velocity_features.yml").write_text(
        NEW_YML.replace("entity: customer", "entity: custome").replace("ttl: 7d", "ttl: 7 days")
        .replace("name: max_amount_last_5", "name: max_amount_last_50"))
    code, _, err = fwctl(capsys, "registry", "build", *p)
    assert code == 2
    assert "error: the registry was not written; problems found: 3" in err
    assert "unknown entity 'custome'. did you mean 'customer'?" in err
    assert "malformed ttl '7 days'" in err
    assert "declared feature 'max_amount_last_50' is not produced by the model's SELECT" in err
    assert "at: models/features/customer_velocity_features.yml: customer_velocity_features.columns.max_amount_last_50" \
        in err
    assert registry_file.read_bytes() == before


def test_lint_fails_on_a_leaking_view(demo, capsys):
    p = ["--project-dir", str(demo)]
    (demo / "models" / "features" / "customer_next_features.sql").write_text(LEAKY_SQL)
    (demo / "models" / "features" / "customer_next_features.yml").write_text(
        NEW_YML.replace("customer_velocity_features", "customer_next_features")
        .split("    columns:")[0] + "    columns:\n      - name: next_amount\n        data_type: double\n"
        "        description: The next amount (leaks).\n        config: {meta: {fw: {feature: true}}}\n")
    assert fwctl(capsys, "registry", "build", *p)[0] == 0
    code, out, err = fwctl(capsys, "lint", "--json", *p)
    assert code == 1
    [finding] = [f for f in json.loads(out)["findings"] if f["severity"] == "error"]
    assert (finding["model"], finding["rule"], finding["line"]) == ("customer_next_features", "FW001", 4)
    assert finding["file"] == "models/features/customer_next_features.sql"
    assert "lint found 1 error(s)" in err
