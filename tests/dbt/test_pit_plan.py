"""The PIT query's DuckDB plan for every spine kind: ASOF joins, never a nested loop in their place.

DuckDB estimates a registered Arrow scan (DataFrame and Arrow spines) at ~1 row
and, below `asof_loop_join_threshold` rows on the left, plans an ASOF join as a
nested loop: quadratic, 243 s instead of 25 s for a 100k-row spine (issue 15).
These tests read the plan (EXPLAIN) on small data, so they fail on the planner's
choice, not on a timing.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from historical_support import FEATURES, ISOLATE_ENV, copy_project, spine_frame


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt

    with pytest.MonkeyPatch.context() as mp:
        for name in ISOLATE_ENV:
            mp.delenv(name, raising=False)
        project = copy_project(tmp_path_factory.mktemp("pit_plan") / "project")
        cfg = load_config(project, target="dev")
        run_dbt(cfg, ["build"], quiet=True)
        yield cfg


@pytest.fixture(scope="module")
def pit_sql(config):
    from featurewarehouse.offline.retrieval import render_pit_sql

    return render_pit_sql(config, FEATURES)


def _spines(tmp_path):
    df = spine_frame()
    parquet = tmp_path / "spine.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), parquet)
    return {
        "pandas": df,
        "arrow": pa.Table.from_pandas(df, preserve_index=False),
        "parquet path": str(parquet),
        "sql query": "select * from spine_labels",
        "relation": "spine_labels",
    }


def _plan(config, spine, pit_sql) -> str:
    from featurewarehouse.offline.retrieval import _prepare

    with _prepare(config, spine, FEATURES, timestamp_column="event_ts", full_feature_names=False,
                  row_id_column=None, registry=None, pit_sql=pit_sql) as job:
        return "\n".join(row[1] for row in job.wh.con.execute(f"explain {job.sql}").fetchall())


@pytest.mark.parametrize("kind", ["pandas", "arrow", "parquet path", "sql query", "relation"])
def test_every_spine_kind_is_planned_as_asof_joins_without_a_nested_loop(config, pit_sql, tmp_path, kind):
    plan = _plan(config, _spines(tmp_path)[kind], pit_sql)
    # One ASOF join per view of the request (three views). Below the threshold DuckDB
    # rewrites an ASOF join into a nested loop plus a window, and the ASOF_JOIN operator
    # is gone. (The plan does hold nested loops: each against the one-row scalar of the
    # spine's time range that pre-filters a view, which is what a nested loop is for.)
    # (DuckDB 1.x names the operator ASOF_JOIN in a plan, 2.x "Asof Join")
    assert plan.upper().replace(" ", "_").count("ASOF_JOIN") == 3, plan


def test_a_profile_setting_overrides_the_planner_default(config, monkeypatch):
    """The defaults are deliberate, but a profile's `settings:` still wins (as it does for dbt)."""
    from featurewarehouse.offline import warehouse

    real = warehouse.read_target

    def with_setting(cfg):
        target = real(cfg)
        settings = {**target.settings, "settings": {**(target.settings.get("settings") or {}),
                                                    "asof_loop_join_threshold": 7}}
        return warehouse.Target(target.name, target.type, settings)

    monkeypatch.setattr(warehouse, "read_target", with_setting)
    with warehouse.connect(config) as wh:
        got = wh.fetch_arrow("select current_setting('asof_loop_join_threshold') as v").column(0)[0].as_py()
        assert int(got) == 7
