"""A full sync against its raw floor, per store, in the same run (issue 15, "The sync's SQL").

    .venv/bin/python bench/sync_sql.py [--entities 100000] [--rows-per-entity 3] [--rounds 3] [--redis URL]

- floor: the latest-value query alone (``latest_values_sql``, streamed as Arrow batches), then a
  plain write loop of its rows: sqlite3 ``executemany`` INSERT into a fresh table (no guard, no
  metadata) / redis-py pipelined HSETs (no guard, no generations). The query and the write are
  timed together, as a sync runs them.
- fwctl: ``sync_views(full_refresh=True)`` into the same store kind: the one scan of the view's
  table (watermark, change and skipped-row counts), the query, the guarded writes, the commit,
  the lock.
- the scan alone, and the query alone, to show where the difference goes.

Each round runs the floor right before the sync, so load from elsewhere on a shared machine
hits both sides of the ratio alike; medians and per-round ratios are printed. One unrecorded
sync runs first (one-time imports).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from featurewarehouse.offline.warehouse import DuckDBWarehouse  # noqa: E402
from featurewarehouse.online.base import open_store  # noqa: E402
from featurewarehouse.online.latest_sql import latest_values_sql, view_scan_sql  # noqa: E402
from featurewarehouse.online.sync import sync_views  # noqa: E402
from featurewarehouse.registry.model import Entity, Feature, FeatureView, JoinKey, Registry  # noqa: E402

NOW = dt.datetime(2026, 6, 1)
FEATURES = [f"i{k}" for k in range(7)] + [f"x{k}" for k in range(7)] + ["s0"]


def view() -> FeatureView:
    feats = [Feature(f, "bench", "bigint") for f in FEATURES[:7]] + [Feature(f, "bench", "double") for f in FEATURES[7:14]]
    feats.append(Feature("s0", "bench", "varchar"))
    return FeatureView(name="bench", relation='"bench"', entities=("customer",),
                       join_keys=(JoinKey("customer_id", "bigint"),), timestamp="event_ts",
                       created_timestamp="loaded_at", features=tuple(feats), online=True)


def registry(v: FeatureView) -> Registry:
    return Registry(entities=(Entity("customer", (JoinKey("customer_id", "bigint"),)),), feature_views=(v,), version="b")


def generate(wh: DuckDBWarehouse, entities: int, per_entity: int) -> None:
    cols = ", ".join([f"(i * {k + 3}) % 1000 as i{k}" for k in range(7)]
                     + [f"((i * {k + 7}) % 10007) / 7.0 as x{k}" for k in range(7)] + ["'cat_' || (i % 50) as s0"])
    wh.execute(f"""
        create or replace table bench as
        select i % {entities} as customer_id,
               timestamp '2026-05-01' + to_seconds((i * 7919) % 86400) as event_ts,
               timestamp '2026-05-02' + to_seconds(i % 600) as loaded_at,
               {cols}
        from range({entities * per_entity}) t(i)
    """)


def floor_sqlite(wh: DuckDBWarehouse, sql: str, path: str) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("pragma journal_mode=wal")
    names = ["customer_id", "__ts", "__cts", *FEATURES]
    con.execute(f"create table t ({', '.join(names)}, primary key (customer_id)) without rowid")
    insert = f"insert into t values ({', '.join('?' * len(names))})"
    started = time.perf_counter()
    con.execute("begin")
    for batch in wh.stream(sql):
        con.executemany(insert, zip(*(c.to_pylist() for c in batch.columns)))
    con.execute("commit")
    took = time.perf_counter() - started
    con.close()
    return took


def floor_redis(wh: DuckDBWarehouse, sql: str, url: str, prefix: str) -> float:
    import redis

    client = redis.Redis.from_url(url)
    started = time.perf_counter()
    for batch in wh.stream(sql):
        cols = [c.to_pylist() for c in batch.columns]
        pipe = client.pipeline(transaction=False)
        for n, row in enumerate(zip(*cols)):
            pipe.hset(f"{prefix}:{row[0]}", mapping={"__v": f"{row[1]}{row[2]}",
                                                      **{f: v for f, v in zip(FEATURES, row[3:]) if v is not None}})
            if n % 2000 == 1999:
                pipe.execute()
        pipe.execute()
    took = time.perf_counter() - started
    for keys in iter(lambda: [k for _, k in zip(range(10_000), client.scan_iter(match=f"{prefix}:*", count=10_000))], []):
        client.unlink(*keys)
    client.close()
    return took


def floor_sql(v: FeatureView, *, order_by_keys: bool = False) -> str:
    """The latest-value query with its timestamps as int64 micros, as the sync writes them."""
    inner = latest_values_sql(v, NOW, order_by_keys=order_by_keys)
    return f"select customer_id, epoch_us(__ts), coalesce(epoch_us(__cts), 0), {', '.join(FEATURES)} from ({inner})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--rows-per-entity", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--redis", default=os.environ.get("FW_BENCH_REDIS", "redis://127.0.0.1:6379/13"))
    args = ap.parse_args()
    v = view()
    tmp = Path(tempfile.mkdtemp(prefix="fw_sync_sql_"))
    wh = DuckDBWarehouse(str(tmp / "wh.duckdb"))
    generate(wh, args.entities, args.rows_per_entity)
    sql = latest_values_sql(v, NOW)
    times: dict[str, list[float]] = {}

    def record(key: str, seconds: float) -> None:
        times.setdefault(key, []).append(seconds)

    # one unrecorded sync first: the first in a process pays one-time imports and kernel set-up
    # (measured 1.2 s at 20k entities), which neither side of the ratio should carry
    with open_store(f"sqlite:///{tmp / 'warmup.db'}") as store:
        sync_views(wh, store, registry(v), [v], now=NOW, full_refresh=True)
    for r in range(args.rounds):
        t = time.perf_counter()
        wh.fetch_arrow(view_scan_sql(v, NOW))
        record("scan", time.perf_counter() - t)
        t = time.perf_counter()
        sum(b.num_rows for b in wh.stream(sql))
        record("query", time.perf_counter() - t)
        record("sqlite floor", floor_sqlite(wh, floor_sql(v, order_by_keys=True), str(tmp / f"floor{r}.db")))
        t = time.perf_counter()
        with open_store(f"sqlite:///{tmp / f'sync{r}.db'}") as store:
            sync_views(wh, store, registry(v), [v], now=NOW, full_refresh=True)
        record("sqlite sync", time.perf_counter() - t)
        if args.redis:
            record("redis floor", floor_redis(wh, floor_sql(v), args.redis, f"fwbench_{uuid.uuid4().hex[:8]}"))
            url = f"{args.redis}?prefix=fwbench_{uuid.uuid4().hex[:8]}"
            t = time.perf_counter()
            with open_store(url) as store:
                sync_views(wh, store, registry(v), [v], now=NOW, full_refresh=True)
                record("redis sync", time.perf_counter() - t)
                store.drop_all()
        print(f"round {r + 1}: " + ", ".join(f"{k} {s[-1]:.2f}s" for k, s in times.items()), flush=True)

    med = {k: statistics.median(s) for k, s in times.items()}
    rows = args.entities * args.rows_per_entity
    print(f"\n{args.entities:,} entities x {args.rows_per_entity} rows x {len(FEATURES)} features ({rows:,} rows); "
          f"medians of {args.rounds} round(s), per-round ratios in brackets")
    print(f"scan {med['scan']:.3f}s, latest-value query {med['query']:.3f}s (scan = {med['scan'] / med['query']:.0%} of the query)")
    for kind in ("sqlite", "redis"):
        if f"{kind} sync" not in med:
            continue
        per = ", ".join(f"{s / f:.2f}" for s, f in zip(times[f"{kind} sync"], times[f"{kind} floor"]))
        print(f"{kind:6} full sync {med[f'{kind} sync']:.2f}s vs floor {med[f'{kind} floor']:.2f}s: "
              f"ratio {med[f'{kind} sync'] / med[f'{kind} floor']:.2f}x [{per}]")
    wh.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
