"""Online write throughput: full sync vs plain-client baselines, incremental vs full, peak memory.

    .venv/bin/python bench/online_write.py [--size 1000000] [--rounds 3] [--memory-size 10000000] [--redis redis://127.0.0.1:6379/13]

Measured in the same run, on the same rows (latest value of N entities x 15 features):
- fwctl's full sync (warehouse query + Arrow streaming + store guard + watermark) into Redis and SQLite;
- baselines: a plain redis-py pipelined HSET loop (no ordering guard) and a plain sqlite3
  executemany upsert, both fed rows already in Python (their warehouse read is not timed);
- an incremental sync after 1% of the entities changed, vs the full sync;
- SQLite only: the steady state of its delta table, which grows with each incremental sync and
  is merged into the main table once it holds more than ``DELTA_MERGE_SHARE`` of it: one whole
  cycle of incremental syncs of 1% each in a row (by default the syncs up to and including the
  one that merges), and their mean share of the full sync, the merge included;
- peak RSS of a full SQLite sync of ``--memory-size`` entities, in a fresh process.

Each of ``--rounds`` rounds runs every baseline right before its sync, on a fresh copy of the
data, so load from elsewhere on a shared machine hits both sides of a ratio alike; the medians
and each round's ratio are printed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from featurewarehouse.offline.warehouse import DuckDBWarehouse  # noqa: E402
from featurewarehouse.online.base import open_store  # noqa: E402
from featurewarehouse.online.sqlite import DELTA_MERGE_SHARE  # noqa: E402
from featurewarehouse.online.sync import SYNC_MEMORY_LIMIT, latest_values_sql, sync_views  # noqa: E402
from featurewarehouse.registry.model import Entity, Feature, FeatureView, JoinKey, Registry  # noqa: E402

NOW = dt.datetime(2026, 6, 1)
INTS = [f"i{k}" for k in range(7)]
FLOATS = [f"x{k}" for k in range(7)]
TEXTS = ["s0"]
FEATURES = [*INTS, *FLOATS, *TEXTS]


def view() -> FeatureView:
    key = JoinKey("customer_id", "bigint")
    feats = [Feature(f, "bench", "bigint") for f in INTS] + [Feature(f, "bench", "double") for f in FLOATS]
    feats += [Feature(f, "bench", "varchar") for f in TEXTS]
    return FeatureView(name="bench", relation='"bench"', entities=("customer",), join_keys=(key,),
                       timestamp="event_ts", created_timestamp="loaded_at", features=tuple(feats), online=True)


def registry(v: FeatureView) -> Registry:
    return Registry(entities=(Entity("customer", (JoinKey("customer_id", "bigint"),)),), feature_views=(v,), version="bench")


def generate(db: str, size: int) -> None:
    import duckdb

    con = duckdb.connect(db)
    cols = ", ".join(
        [f"(i * {k + 3}) % 1000 as {c}" for k, c in enumerate(INTS)]
        + [f"((i * {k + 7}) % 10007) / 7.0 as {c}" for k, c in enumerate(FLOATS)]
        + ["'cat_' || (i % 50) as s0"]
    )
    con.execute(f"""
        create or replace table bench as
        select i as customer_id,
               timestamp '2026-05-01' + to_seconds(i % 86400) as event_ts,
               timestamp '2026-05-02' as loaded_at,
               {cols}
        from range({size}) t(i)
    """)
    con.close()


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def sync_once(wh: DuckDBWarehouse, url: str, v: FeatureView, *, full: bool):
    store = open_store(url)
    try:
        return sync_views(wh, store, registry(v), [v], now=NOW, full_refresh=full)[0]
    finally:
        store.close()


def python_rows(wh: DuckDBWarehouse, v: FeatureView) -> list[tuple]:
    sql = f"select customer_id, epoch_us(__ts), epoch_us(__cts), {', '.join(FEATURES)} from ({latest_values_sql(v, NOW)})"
    return wh.con.execute(sql).fetchall()


def redis_baseline(url: str, rows: list[tuple]) -> float:
    import redis

    client = redis.Redis.from_url(url.split("?")[0])
    prefix = f"fwbench_base_{uuid.uuid4().hex[:6]}:"
    t = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for n, r in enumerate(rows, 1):
        mapping = {"__ts": r[1], "__cts": r[2]}
        for name, value in zip(FEATURES, r[3:]):
            if value is not None:
                mapping[name] = value
        pipe.hset(f"{prefix}{r[0]}", mapping=mapping)
        if n % 1000 == 0:
            pipe.execute()
    pipe.execute()
    elapsed = time.perf_counter() - t
    keys = list(client.scan_iter(match=prefix + "*", count=10000))
    for i in range(0, len(keys), 10000):
        client.unlink(*keys[i:i + 10000])
    return elapsed


def sqlite_baseline(path: str, rows: list[tuple]) -> float:
    con = sqlite3.connect(path)
    cols = ["customer_id", "__ts", "__cts", *FEATURES]
    con.execute(f"create table t ({', '.join(cols)}, primary key (customer_id)) without rowid")
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    sql = f"insert into t values ({', '.join('?' * len(cols))}) on conflict (customer_id) do update set {sets}"
    t = time.perf_counter()
    con.executemany(sql, rows)
    con.commit()
    elapsed = time.perf_counter() - t
    con.close()
    return elapsed


def memory_child(db: str, store: str) -> None:
    """Run one full sync in this fresh process (DuckDB capped as ``sync_online`` does) and print its peak RSS."""
    v = view()
    wh = DuckDBWarehouse(db)
    with wh.memory_cap(SYNC_MEMORY_LIMIT):
        elapsed, res = timed(lambda: sync_once(wh, store, v, full=True))
    wh.close()
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child of a big parent would report the parent's peak
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) * 1024
    print(json.dumps({"rows": res.rows_read, "seconds": elapsed, "peak_rss_bytes": peak}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--memory-size", type=int, default=10_000_000, help="entities for the peak-memory run (0 skips it)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of baseline + sync pairs; medians are reported")
    ap.add_argument("--series", type=int, default=round(DELTA_MERGE_SHARE * 100),
                    help="SQLite incremental syncs of 1%% each after the first (default: up to the one that "
                         "merges the delta; 0 skips them)")
    ap.add_argument("--redis", default=os.environ.get("FW_BENCH_REDIS", "redis://127.0.0.1:6379/13"))
    ap.add_argument("--memory-child", nargs=2, metavar=("DB", "STORE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return

    tmp = Path(tempfile.mkdtemp(prefix="fw_bench_online_"))
    db = str(tmp / "wh.duckdb")
    print(f"generating {args.size:,} entities x {len(FEATURES)} features in {db}", flush=True)
    generate(db, args.size)
    v = view()
    n = args.size
    runs: list[dict[str, float]] = []
    for round_no in range(1, args.rounds + 1):
        # every round: each baseline right before its sync, then the incremental syncs, on a fresh copy
        round_db = str(tmp / f"wh_{round_no}.duckdb")
        shutil.copy(db, round_db)
        wh = DuckDBWarehouse(round_db)
        redis_url = f"{args.redis}?prefix=fwbench_{uuid.uuid4().hex[:6]}"
        sqlite_url = f"sqlite:///{tmp / f'online_{round_no}.db'}"
        res: dict[str, float] = {}
        try:
            rows = python_rows(wh, v)
            assert len(rows) == n
            res["redis_baseline_s"] = redis_baseline(args.redis, rows)
            res["redis_full_s"], r = timed(lambda: sync_once(wh, redis_url, v, full=True))
            assert r.written == n, r
            res["sqlite_baseline_s"] = sqlite_baseline(str(tmp / f"baseline_{round_no}.db"), rows)
            del rows
            res["sqlite_full_s"], r = timed(lambda: sync_once(wh, sqlite_url, v, full=True))
            assert r.written == n, r
            # 1% of the entities change (newer values, loaded later)
            wh.execute("update bench set i0 = i0 + 1, event_ts = event_ts + interval 1 day, "
                       "loaded_at = timestamp '2026-05-03' where customer_id % 100 = 0")
            res["redis_incremental_s"], r = timed(lambda: sync_once(wh, redis_url, v, full=False))
            assert (r.mode, r.written) == ("incremental", n // 100), r
            res["sqlite_incremental_s"], r = timed(lambda: sync_once(wh, sqlite_url, v, full=False))
            assert (r.mode, r.written) == ("incremental", n // 100), r
            for s in range(1, args.series + 1):  # another 1% each time, loaded an hour later
                wh.execute(f"update bench set i0 = i0 + 1, event_ts = event_ts + interval 1 day, "
                           f"loaded_at = timestamp '2026-05-03' + interval {s} hour where customer_id % 100 = {s}")
                res[f"sqlite_series_{s}_s"], r = timed(lambda: sync_once(wh, sqlite_url, v, full=False))
                assert (r.mode, r.written) == ("incremental", n // 100), r
        finally:
            wh.close()
            store = open_store(redis_url)
            store.drop_all()
            store.close()
        runs.append(res)
        print(f"round {round_no}: " + ", ".join(f"{k[:-2]} {t:.2f}s" for k, t in res.items() if "series" not in k),
              flush=True)
        if args.series:
            print(f"  sqlite series, % of full: "
                  + " ".join(f"{100 * res[f'sqlite_series_{s}_s'] / res['sqlite_full_s']:.1f}" for s in range(1, args.series + 1)),
                  flush=True)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def ratios(fast: str, slow: str) -> str:
        return ", ".join(f"{r[slow] / r[fast]:.2f}" for r in runs)

    print(f"\nentities: {n:,} x {len(FEATURES)} features; medians of {len(runs)} round(s), per-round ratios in brackets")
    for k, label in (("redis", "redis-py pipelined HSET loop"), ("sqlite", "sqlite3 executemany upsert")):
        base, full = median(f"{k}_baseline_s"), median(f"{k}_full_s")
        print(f"{k:6} {'baseline (' + label + '):':41} {n / base:>10,.0f} rows/s")
        print(f"{k:6} {'full sync (fwctl):':41} {n / full:>10,.0f} rows/s   ratio {base / full:.2f}x "
              f"[{ratios(f'{k}_full_s', f'{k}_baseline_s')}]")
    for k in ("redis", "sqlite"):
        inc, full = median(f"{k}_incremental_s"), median(f"{k}_full_s")
        shares = ", ".join(f"{100 * r[f'{k}_incremental_s'] / r[f'{k}_full_s']:.1f}%" for r in runs)
        print(f"{k:6} incremental after 1% changed: {inc:.2f}s vs full {full:.2f}s = {100 * inc / full:.1f}% of full [{shares}]")
    if args.series:
        def series_share(r: dict[str, float]) -> float:
            syncs = [r["sqlite_incremental_s"], *(r[f"sqlite_series_{s}_s"] for s in range(1, args.series + 1))]
            return 100 * statistics.mean(syncs) / r["sqlite_full_s"]

        shares = [series_share(r) for r in runs]
        print(f"sqlite {args.series + 1} incremental syncs of 1% in a row, delta merges included: mean "
              f"{statistics.median(shares):.1f}% of full [{', '.join(f'{x:.1f}%' for x in shares)}]")

    if args.memory_size:
        mem_db = str(tmp / "mem.duckdb")
        print(f"\ngenerating {args.memory_size:,} entities for the peak-memory run", flush=True)
        generate(mem_db, args.memory_size)
        out = subprocess.run([sys.executable, __file__, "--memory-child", mem_db, f"sqlite:///{tmp / 'mem.db'}"],
                             capture_output=True, text=True, check=True)
        m = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"peak RSS, full SQLite sync of {m['rows']:,} entities: {m['peak_rss_bytes'] / 2**20:,.0f} MiB "
              f"({m['seconds']:.1f}s, {m['rows'] / m['seconds']:,.0f} rows/s)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
