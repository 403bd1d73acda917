"""A fresh dbt project of a user's own installs the package and runs the whole loop.

As a user would, in a shell with the virtualenv's ``fwctl`` and ``dbt`` on the PATH
and the project as the current directory: ``fwctl init``, its own seed, entity,
feature view, label and point-in-time training set, ``dbt build``, then registry,
expectations, validate, sync-online, get-online and historical retrieval. On
DuckDB and on PostgreSQL (one schema of its own).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

PROFILES = """\
shop:
  target: local   # not "dev": fwctl must use the profile's own default target
  outputs:
    local:
      type: duckdb
      path: shop.duckdb
      threads: 2
    pg:
      type: postgres
      host: "{{ env_var('FW_PG_HOST', '127.0.0.1') }}"
      port: "{{ env_var('FW_PG_PORT', '5432') | as_number }}"
      user: "{{ env_var('FW_PG_USER', 'postgres') }}"
      password: "{{ env_var('FW_PG_PASSWORD', '') }}"
      dbname: "{{ env_var('FW_PG_DATABASE', 'test') }}"
      schema: "{{ env_var('SHOP_SCHEMA', 'shop') }}"
      threads: 2
"""

# Days before today: user 1 ordered two days ago (inside the view's 30d TTL at "now"), user 3 long
# ago; every label lies in the past (the generated suites refuse timestamps in the future).
BASE = dt.date.today() - dt.timedelta(days=50)


def day(n: int, hour: int = 0) -> str:
    return f"{BASE + dt.timedelta(days=n)} {hour:02d}:00:00"


ORDERS = f"""\
user_id,ordered_at,amount
1,{day(0, 10)},10.0
1,{day(4, 10)},30.0
1,{day(48, 10)},5.0
2,{day(2, 9)},7.5
3,{day(1, 8)},100.0
"""

LABELS = f"""\
user_id,label_ts,churned
1,{day(3)},false
1,{day(9)},false
2,{day(1)},true
3,{day(45)},true
4,{day(9)},false
"""

FEATURE_SQL = """\
-- Running order count and spend per user, as of each order.
select
    cast(user_id as bigint) as user_id,
    cast(ordered_at as timestamp) as ordered_at,
    cast(count(*) over (partition by user_id order by ordered_at) as bigint) as orders_total,
    cast(sum(amount) over (partition by user_id order by ordered_at) as double precision) as spend_total
from {{ ref('orders') }}
"""

FEATURE_YML = """\
version: 2
models:
  - name: user_order_features
    description: Orders and spend per user so far.
    config:
      tags: [shop]
      meta:
        owner: growth
        fw: {kind: feature_view, entity: user, timestamp: ordered_at, ttl: 30d, online: true}
    columns:
      - name: user_id
        description: The user.
        data_type: bigint
      - name: ordered_at
        description: When the order was placed.
        data_type: timestamp
      - name: orders_total
        description: Orders so far.
        data_type: bigint
        config: {meta: {fw: {feature: true, checks: {not_null: true, min: 1}}}}
      - name: spend_total
        description: Spend so far.
        data_type: double
        config: {meta: {fw: {feature: true, checks: {min: 0}}}}
"""

LABEL_SQL = """\
select cast(user_id as bigint) as user_id, cast(label_ts as timestamp) as label_ts, churned
from {{ ref('churn_labels') }}
"""

LABEL_YML = """\
version: 2
models:
  - name: churn
    description: Churn labels.
    config: {meta: {fw: {kind: label, entity: user, timestamp: label_ts}}}
    columns:
      - {name: user_id, description: The user., data_type: bigint}
      - {name: label_ts, description: When the label holds., data_type: timestamp}
      - {name: churned, description: The label., data_type: boolean}
"""

TRAINING_SQL = """\
{{ featurewarehouse.point_in_time_join(
    spine=ref('churn'), spine_timestamp='label_ts', feature_service='churn_model') }}
"""

# the training set's features, written once: a feature service under vars.fw
SERVICE = """\
    feature_services:
      churn_model:
        description: Features of the churn model.
        owner: growth
        features: ['user_order_features:*']
"""

TRAINING_YML = """\
version: 2
models:
  - name: churn_training_set
    description: Churn labels with the order features as they were at label_ts.
    config:
      meta:
        fw:
          kind: training_set
          entity: user
          timestamp: label_ts
          feature_service: churn_model
"""

# label rows -> (orders_total, spend_total) by the PIT rules (ts <= t, within the 30d TTL)
EXPECTED = {
    (1, day(3)[:10]): (1, 10.0),
    (1, day(9)[:10]): (2, 40.0),
    (2, day(1)[:10]): (None, None),   # before the user's first order
    (3, day(45)[:10]): (None, None),  # the last order is older than the TTL
    (4, day(9)[:10]): (None, None),   # no such user
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_project(root: Path) -> Path:
    project = root / "shop"
    write(project / "dbt_project.yml", textwrap.dedent("""\
        name: shop
        version: "1.0.0"
        config-version: 2
        profile: shop

        # a comment of the user's own, which fwctl init keeps
        models:
          shop:
            +materialized: table
        seeds:
          shop:
            orders:
              +column_types: {user_id: bigint, ordered_at: timestamp, amount: double precision}
            churn_labels:
              +column_types: {user_id: bigint, label_ts: timestamp, churned: boolean}
        """))
    write(project / "profiles.yml", PROFILES)
    write(project / "seeds" / "orders.csv", ORDERS)
    write(project / "seeds" / "churn_labels.csv", LABELS)
    return project


def run(project: Path, *command: str, env: dict[str, str], ok: bool = True) -> subprocess.CompletedProcess:
    """A command as typed in the user's shell: plain `fwctl`/`dbt`, the project as the current directory."""
    done = subprocess.run(list(command), cwd=project, env=env, capture_output=True, text=True, timeout=600)
    if ok:
        assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def shell_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FW_", "DBT_")) or k.startswith("FW_PG_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def consumer_loop(tmp_path: Path, target_env: dict[str, str]) -> None:
    project = make_project(tmp_path)
    env = shell_env(target_env)

    first = json.loads(run(project, "fwctl", "init", "--entity", "user", "--join-key", "user_id",
                           "--package", f"local:{REPO}", "--json", env=env).stdout)
    assert any(a.startswith("packages.yml") for a in first["added"])
    assert "dbt_project.yml: vars.fw.entities.user" in first["added"]
    assert "expectations/user_example_features.json: suite of user_example_features" in first["added"]
    snapshot = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and "target" not in p.parts
                and "dbt_packages" not in p.parts and "logs" not in p.parts and p.suffix != ".duckdb"}
    again = json.loads(run(project, "fwctl", "init", "--entity", "user", "--join-key", "user_id",
                           "--package", f"local:{REPO}", "--json", env=env).stdout)
    assert again["added"] == []
    assert {p: p.read_bytes() for p in snapshot} == snapshot  # twice changes nothing
    assert "# a comment of the user's own" in (project / "dbt_project.yml").read_text()

    dbt_project = (project / "dbt_project.yml").read_text()
    assert "    entities:\n" in dbt_project  # fwctl init wrote vars.fw.entities
    write(project / "dbt_project.yml", dbt_project.replace("    entities:\n", SERVICE + "    entities:\n", 1))
    write(project / "models" / "features" / "user_order_features.sql", FEATURE_SQL)
    write(project / "models" / "features" / "user_order_features.yml", FEATURE_YML)
    write(project / "models" / "labels" / "churn.sql", LABEL_SQL)
    write(project / "models" / "labels" / "churn.yml", LABEL_YML)
    write(project / "models" / "training" / "churn_training_set.sql", TRAINING_SQL)
    write(project / "models" / "training" / "churn_training_set.yml", TRAINING_YML)

    run(project, "dbt", "build", env=env)  # plain dbt finds profiles.yml and the package
    listed = run(project, "dbt", "ls", "-s", "tag:shop", "--resource-type", "model", "--output", "name", env=env)
    assert "user_order_features" in listed.stdout  # dbt's own tags select the feature view
    models = run(project, "dbt", "ls", "--resource-type", "model", "--output", "name", "--quiet", env=env)
    # installed, the package builds nothing the project did not ask for (its feature log models are off)
    assert set(models.stdout.split()) == {"user_example_features", "user_order_features", "churn",
                                          "churn_training_set"}

    registry = json.loads(run(project, "fwctl", "registry", "build", "--json", env=env).stdout)
    assert registry["feature_views"] >= 2
    run(project, "fwctl", "expectations", "generate", env=env)
    validated = json.loads(run(project, "fwctl", "validate", "--no-docs", "--json", env=env).stdout)
    assert validated["success"] and {m["model"] for m in validated["models"]} >= {
        "user_order_features", "churn", "churn_training_set", "user_example_features"}
    run(project, "fwctl", "sync-online", env=env)

    online = json.loads(run(project, "fwctl", "get-online", "-e", "user_id=1", "-e", "user_id=3", "-e", "user_id=9",
                            "-f", "user_order_features:*", "--json", env=env).stdout)
    names = online["metadata"]["feature_names"]
    total = online["results"][names.index("orders_total")]
    # user 3's value expired before the sync: never served as present
    assert total["values"][:2] == [3, None] and total["statuses"][0] == "PRESENT"
    assert total["statuses"][1] in ("OUTSIDE_MAX_AGE", "NOT_FOUND") and total["statuses"][2] == "NOT_FOUND"

    run(project, "fwctl", "historical", "--spine", "select * from churn", "-f", "user_order_features:*",
        "--out", "train.parquet", env=env)
    import pyarrow.parquet as pq

    rows = pq.read_table(project / "train.parquet").to_pylist()
    got = {(r["user_id"], r["label_ts"].date().isoformat()): (r["orders_total"], r["spend_total"]) for r in rows}
    assert got == EXPECTED
    # the dbt training set says the same as Python retrieval
    run(project, "fwctl", "historical", "--spine", "select * from churn_training_set", "-f", "user_order_features:*",
        "--full-feature-names", "--out", "again.parquet", env=env)
    for r in pq.read_table(project / "again.parquet").to_pylist():
        key = (r["user_id"], r["label_ts"].date().isoformat())
        assert (r["orders_total"], r["spend_total"]) == EXPECTED[key]
        assert (r["user_order_features__orders_total"], r["user_order_features__spend_total"]) == EXPECTED[key]


@pytest.mark.slow
def test_a_fresh_dbt_project_runs_the_whole_loop_on_duckdb(tmp_path):
    consumer_loop(tmp_path, {})


@pytest.mark.slow
@pytest.mark.postgres
def test_a_fresh_dbt_project_runs_the_whole_loop_on_postgres(tmp_path, postgres_uri):
    schema = f"shop_{uuid.uuid4().hex[:8]}"
    try:
        consumer_loop(tmp_path, {"DBT_TARGET": "pg", "SHOP_SCHEMA": schema})
    finally:
        import adbc_driver_postgresql.dbapi as adbc

        con = adbc.connect(postgres_uri, autocommit=True)
        with con.cursor() as cur:
            for s in (schema, f"{schema}_raw"):
                cur.execute(f'drop schema if exists "{s}" cascade')
        con.close()
