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
    # One ASOF join per view of the request that the statistics did not give the range join
    # (three views, two of them range-joined: rendered for a spine of unknown size, taken as
    # large as each view). Below the threshold DuckDB rewrites an ASOF join into a nested loop
    # plus a window, and the ASOF_JOIN operator is gone. (The plan does hold nested loops: each
    # against the one-row scalar of the spine's time range that pre-filters a view, which is
    # what they are for.) (DuckDB 1.x names the operator ASOF_JOIN in a plan, 2.x "Asof Join")
    ranged = sum(q.count("fw_l.fw_bucket = fw_r.fw_bucket") for q in pit_sql)
    assert ranged == 2
    assert plan.upper().replace(" ", "_").count("ASOF_JOIN") == 3 - ranged, plan


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


def test_a_python_spine_s_size_lets_the_statistics_choose_and_both_choices_agree(config):
    """fwctl passes a bound of a pandas, Arrow or Parquet spine's rows (vars.fw_pit_spine_rows):
    the macro's statistics then choose per view (macros/pit_formulation.sql). The two views with a
    TTL and no available_timestamp take the range join for a tiny spine (and for one of unknown
    size, taken as large as each view: a few rows per window here), ASOF for a huge one, and a
    spine gets the same rows either way."""
    from featurewarehouse.offline.retrieval import get_historical_features, render_pit_sql

    rendered = {rows: render_pit_sql(config, FEATURES, spine_rows=rows) for rows in (None, 1, 10**9)}
    ranged = {rows: sum(q.count("fw_l.fw_bucket = fw_r.fw_bucket") for q in sql) for rows, sql in rendered.items()}
    assert ranged == {None: 2, 1: 2, 10**9: 0}
    got = [get_historical_features(config, spine_frame(), FEATURES, timestamp_column="event_ts",
                                   pit_sql=rendered[rows]).to_arrow() for rows in (10**9, 1)]
    assert got[0].num_rows == len(spine_frame()) and got[0].equals(got[1])


@pytest.mark.parametrize("kind", ["pandas", "arrow", "parquet path", "sql query", "relation"])
def test_every_spine_kind_tells_the_render_its_size_class(config, tmp_path, kind, monkeypatch):
    """The render learns a bound of the spine's rows whatever its kind: read off a frame or Parquet
    metadata, counted in the warehouse for SQL and a relation (10 rows: the class of 16)."""
    from featurewarehouse.offline import retrieval

    seen = []

    def render(*args, **kwargs):
        seen.append(kwargs.get("spine_rows"))
        raise RuntimeError("rendered")

    monkeypatch.setattr(retrieval, "render_pit_sql", render)
    with pytest.raises(RuntimeError, match="rendered"):
        retrieval.get_historical_features(config, _spines(tmp_path)[kind], FEATURES, timestamp_column="event_ts")
    assert len(spine_frame()) == 10 and seen == [16]
