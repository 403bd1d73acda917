"""Benchmark: Spark (Spark Connect) against hand-written Spark, with DuckDB for reference, same data, same run.

1. PIT join: the spine x 3 views of bench/pit_join.py (same generator), through
   featurewarehouse.point_in_time_join as dbt-spark compiles it, against the same
   join hand-written for Spark (per view: the best row per (keys, ts), spine and
   rows in one timeline, the last row carried forward with last(..., true) over a
   window, the TTL checked on it). Both are materialized with `create table ... as`
   on the server; results are checked equal (row count and a hash over all columns).
   DuckDB runs the macro's DuckDB body on the same data for reference.
2. Sync: one view with --entities keys into SQLite, fwctl's sync (Arrow batches
   streamed from Spark) against a plain toArrow() of the same latest-values query
   plus the store's bulk write of that table. DuckDB's sync of the same data for reference.

Needs a Spark Connect server (FW_SPARK_REMOTE, default sc://127.0.0.1:15002; start one
as docs/engines.md says). Prints seconds and the ratios.

  FW_SPARK_REMOTE=sc://127.0.0.1:15002 .venv/bin/python bench/spark.py                  # 1M spine, 1M rows/view, 1M entities
  FW_SPARK_REMOTE=... .venv/bin/python bench/spark.py --spine-rows 200000 --view-rows 200000 --entities 200000
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("pit_join", REPO / "bench" / "pit_join.py")
pit_join = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pit_join)
VIEWS = pit_join.VIEWS


def hand_written_spark() -> str:
    """The PIT join as one would write it for Spark by hand (same answers as the macro)."""
    ctes, joins, cols = ["s0 as (select *, monotonically_increasing_id() as fw_rid from spine)"], [], []
    for i, (name, v) in enumerate(VIEWS.items()):
        keys = ", ".join(v["keys"])
        order = ["ts desc"] + ([f"{v['created']} desc nulls last"] if v["created"] else [])
        order += [f"{f} desc nulls last" for f in v["features"]]
        feats = ", ".join(v["features"])
        ctes.append(
            f"d{i} as (select * from (select {keys}, ts, {feats}, row_number() over (partition by {keys}, ts "
            f"order by {', '.join(order)}) as fw_n from {name} where ts is not null) where fw_n = 1)")
        # rows before lookups at equal times (ts <= t); the row carried forward to each lookup
        ctes.append(
            f"t{i} as (select {keys}, t as fw_t, last(r, true) over (partition by {keys} order by t, fw_is_lookup "
            f"rows between unbounded preceding and current row) as fw_row, fw_is_lookup from ("
            f"select {keys}, ts as t, 0 as fw_is_lookup, named_struct('ts', ts, {', '.join(f'{chr(39)}{f}{chr(39)}, {f}' for f in v['features'])}) as r from d{i} "
            f"union all select distinct {keys}, event_ts as t, 1, null from s0 where event_ts is not null))")
        ttl = f" and a{i}.fw_row.ts >= s.event_ts - make_dt_interval({v['ttl_days']})" if v["ttl_days"] else ""
        joins.append(f"left join (select * from t{i} where fw_is_lookup = 1) a{i} on "
                     + " and ".join(f"a{i}.{k} = s.{k}" for k in v["keys"]) + f" and a{i}.fw_t = s.event_ts")
        cols += [f"case when a{i}.fw_row is not null{ttl} then a{i}.fw_row.{f} end as {f}" for f in v["features"]]
    return (f"with {', '.join(ctes)}\nselect s.label_id, s.customer_id, s.merchant_id, s.event_ts, s.is_fraud, "
            f"{', '.join(cols)}\nfrom s0 s\n" + "\n".join(joins))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def spark_create(wh, name: str, sql: str) -> tuple[float, tuple]:
    wh.execute(f"drop table if exists {name}")
    seconds, _ = timed(lambda: wh.execute(f"create table {name} using parquet as {sql}"))
    cols = wh.fetch_arrow(f"select * from {name} limit 0").column_names
    check = wh.fetch_arrow(f"select count(*) as n, sum(hash({', '.join(cols)})) as h from {name}").to_pylist()[0]
    return seconds, (check["n"], check["h"])


def bench_pit(wh, work: Path, db: Path, schema: str) -> None:
    import duckdb

    project = work / "project"
    pit_join.write_project(project)
    os.environ.update(FW_TARGET="spark", FW_SPARK_SCHEMA=schema)
    spark_sql = compile_for(project, "spark")["pit_macro"]
    duck_sql = pit_join.compile_macro(project, db)["pit_macro"]

    macro_s, macro_check = spark_create(wh, "fw_bench_macro", spark_sql)
    hand_s, hand_check = spark_create(wh, "fw_bench_hand", hand_written_spark())
    same = "equal" if macro_check == hand_check else f"DIFFERENT {macro_check} vs {hand_check}"
    con = duckdb.connect(str(db))
    con.execute("set threads = 2")
    duck_s, _ = timed(lambda: con.execute(f"create temp table r as {duck_sql}"))
    con.close()
    print(f"pit join   spark macro {macro_s:7.2f} s   spark hand-written {hand_s:7.2f} s   "
          f"ratio {macro_s / hand_s:.2f}x   results {same}   (duckdb macro {duck_s:.2f} s)")


def compile_for(project: Path, target: str) -> dict[str, str]:
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt

    os.environ["DBT_TARGET_PATH"] = str(project / "target")
    config = load_config(project, profiles_dir=project / "profiles", target=target)
    run_dbt(config, ["compile", "--select", "pit_macro"], quiet=True)
    out = project / "target" / "compiled" / "featurewarehouse" / "models"
    return {"pit_macro": (out / "pit_macro.sql").read_text()}


def bench_sync(wh, work: Path, entities: int, schema: str, repeat: int = 3) -> None:
    import duckdb

    from featurewarehouse.offline.warehouse import DuckDBWarehouse
    from featurewarehouse.online.base import ViewLayout, ViewState, open_store
    from featurewarehouse.online.latest_sql import latest_values_sql
    from featurewarehouse.online.sync import _prepare_batch, sync_views
    from featurewarehouse.registry.model import Entity, Feature, FeatureView, JoinKey, Registry

    def view(relation: str) -> FeatureView:
        v = VIEWS["customer_spend"]
        return FeatureView(name="spend", relation=relation, entities=("customer",),
                           join_keys=(JoinKey("customer_id", "bigint"),), timestamp="ts",
                           features=tuple(Feature(f, "spend", t) for f, t in zip(v["features"], v["types"])),
                           created_timestamp="created_at", online=True)

    def registry(fv):
        return Registry(entities=(Entity("customer", (JoinKey("customer_id", "bigint"),)),), feature_views=(fv,),
                        version="bench")

    now = dt.datetime(2025, 1, 1)
    # two rows per entity: the sync ranks them
    wh.execute("drop table if exists sync_view")
    wh.execute(f"""create table sync_view using parquet as
        select id % {entities} as customer_id,
               timestamp '2024-01-01' + make_dt_interval(0, 0, 0, (hash(id, 1) % 31536000)) as ts,
               timestamp '2024-06-01' as created_at,
               cast(hash(id, 2) % 1000 as bigint) as txn_count_7d, (hash(id, 3) % 100000) / 100.0d as amount_sum_7d,
               (hash(id, 4) % 10000) / 100.0d as amount_avg_7d, cast(hash(id, 5) % 50 as bigint) as txn_count_1h
        from range({2 * entities})""")
    fv = view(f"{schema}.sync_view")

    def ours(i: int) -> Any:
        store = open_store(f"sqlite:///{work / f'ours{i}.db'}")
        try:
            return sync_views(wh, store, registry(fv), [fv], now=now, full_refresh=True)
        finally:
            store.close()

    def plain(i: int) -> int:
        table = wh.spark.sql(latest_values_sql(fv, now, dialect="spark")).toArrow()
        s = open_store(f"sqlite:///{work / f'plain{i}.db'}")
        layout = ViewLayout.from_view(fv)
        s.begin_view(layout, full_refresh=True)
        for batch in table.to_batches(65_536):
            prepared, _ = _prepare_batch(batch)
            s.write_encoded(layout, s.encode_batch(layout, prepared))
        s.commit_view(ViewState(layout=layout, registry_version="bench", watermark="{}", synced_at=now.isoformat()))
        s.close()
        return table.num_rows

    # alternated and repeated, medians: the first query on a new table runs cold
    ours_runs, plain_runs = [], []
    for i in range(repeat):
        ours_runs.append(timed(lambda: ours(i)))
        plain_runs.append(timed(lambda: plain(i)))
    ours_s, res = sorted(ours_runs, key=lambda r: r[0])[repeat // 2]
    plain_s, n = sorted(plain_runs, key=lambda r: r[0])[repeat // 2]
    # DuckDB, same data (read back from Spark's Parquet files through Arrow)
    dpath = work / "sync.duckdb"
    con = duckdb.connect(str(dpath))
    con.register("a", wh.fetch_arrow("select * from sync_view"))
    con.execute("create table sync_view as select * from a")
    con.close()
    dwh = DuckDBWarehouse(str(dpath))
    dstore = open_store(f"sqlite:///{work / 'duck.db'}")
    duck_s, _ = timed(lambda: sync_views(dwh, dstore, registry(view("sync_view")), [view("sync_view")], now=now,
                                         full_refresh=True))
    dstore.close()
    dwh.close()
    print(f"sync       fwctl sync {ours_s:7.2f} s   toArrow + bulk write {plain_s:7.2f} s   "
          f"ratio {ours_s / plain_s:.2f}x   {res[0].rows_read:,} / {n:,} keys   (duckdb sync {duck_s:.2f} s; "
          f"median of {repeat}: fwctl {', '.join(f'{r[0]:.2f}' for r in ours_runs)}, "
          f"plain {', '.join(f'{r[0]:.2f}' for r in plain_runs)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spine-rows", type=int, default=1_000_000)
    ap.add_argument("--view-rows", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--merchants", type=int, default=10_000)
    ap.add_argument("--entities", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="sync runs of each kind (alternated; medians)")
    args = ap.parse_args()

    from featurewarehouse.offline.spark import SparkWarehouse

    remote = os.environ.get("FW_SPARK_REMOTE", "sc://127.0.0.1:15002")
    schema = "fw_bench"
    work = Path(tempfile.mkdtemp(prefix="fw_bench_spark_"))
    db = work / "bench.duckdb"
    print(f"spine {args.spine_rows:,} rows x 3 views of {args.view_rows:,} rows; sync of {args.entities:,} entities; "
          f"Spark at {remote}", flush=True)
    pit_join.generate(db, args.spine_rows, args.view_rows, args.customers, args.merchants)
    wh = SparkWarehouse(remote, schema=schema)
    try:
        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        for table in ["spine", *VIEWS]:
            wh.execute(f"drop table if exists {table}")
            wh.upload_arrow(table, con.sql(f"select * from {table}").to_arrow_reader(), temporary=False,
                            schema=schema)
        con.close()
        bench_pit(wh, work, db, schema)
        bench_sync(wh, work, args.entities, schema, args.repeat)
    finally:
        wh.execute(f"drop schema if exists {schema} cascade")
        wh.close()


if __name__ == "__main__":
    sys.exit(main())
