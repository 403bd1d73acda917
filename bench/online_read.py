"""Online read latency, in-process: OnlineClient vs the raw client doing the same lookups.

    .venv/bin/python bench/online_read.py [--entities 100000] [--calls 10000] [--redis redis://127.0.0.1:6379/13]

For each store (SQLite, Redis), p50 and p99 over ``--calls`` calls of 1 entity x 15 features and
100 entities x 15 features, measured in the same run as the raw baseline: a redis-py HMGET
pipeline, and one sqlite3 ``SELECT ... WHERE key IN (...)`` by primary key, on a default
connection and on one that memory-maps the file as the store's own connections do. They are
timed call by call, interleaved on the same keys. The store is read as syncs leave it: a full sync,
then an incremental one after 10% of the entities changed.
"""
from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

from online_write import FEATURES, NOW, generate, registry, view  # noqa: E402

from featurewarehouse.offline.warehouse import DuckDBWarehouse  # noqa: E402
from featurewarehouse.online.base import open_store  # noqa: E402
from featurewarehouse.online.sqlite import MMAP_BYTES  # noqa: E402
from featurewarehouse.online.sync import sync_views  # noqa: E402
from featurewarehouse.serving.client import OnlineClient  # noqa: E402


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def measure(calls, batches) -> list[tuple[float, float]]:
    """p50/p99 of each call, timed call by call interleaved (ours, raw, ours, ...) on the same keys,
    so load from elsewhere on the shared machine falls on all alike."""
    for b in batches[:200]:  # warm-up
        for call in calls:
            call(b)
    samples: list[list[float]] = [[] for _ in calls]
    clock = time.perf_counter
    for b in batches:
        for call, times in zip(calls, samples):
            t = clock()
            call(b)
            times.append(clock() - t)
    return [percentiles(times) for times in samples]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fw_bench_read_"))
    db = str(tmp / "wh.duckdb")
    generate(db, args.entities)
    v = view()
    reg = registry(v)
    prefix = f"fwbenchr_{uuid.uuid4().hex[:6]}"
    urls = {"sqlite": f"sqlite:///{tmp / 'online.db'}", "redis": f"{args.redis}?prefix={prefix}"}
    wh = DuckDBWarehouse(db)
    for url in urls.values():
        store = open_store(url)
        sync_views(wh, store, reg, [v], now=NOW)
        store.close()
    # then 10% change and an incremental sync, so reads meet what incremental syncs leave at
    # worst (SQLite: the delta table holds 10% of the keys, the most it holds unmerged, and a
    # read looks in both tables)
    wh.execute("update bench set i0 = i0 + 1, loaded_at = timestamp '2026-05-03' where customer_id % 10 = 0")
    for url in urls.values():
        store = open_store(url)
        assert sync_views(wh, store, reg, [v], now=NOW)[0].written == args.entities // 10
        store.close()
    wh.close()

    rng = random.Random(1)
    refs = [f"bench:{f}" for f in FEATURES]
    print(f"{args.entities:,} entities synced; {args.calls:,} calls each; 15 features; times in ms (p50 / p99)")
    try:
        for name, url in urls.items():
            client = OnlineClient(open_store(url), reg)
            store = client.store
            if name == "redis":
                import redis

                raw = redis.Redis.from_url(args.redis)
                key_prefix = store.data_prefix("bench", store.view_states()["bench"].generation)

                def raw_read(ids, raw=raw, key_prefix=key_prefix):
                    pipe = raw.pipeline(transaction=False)
                    for i in ids:
                        pipe.hmget(f"{key_prefix}i{i}", ["__v", *FEATURES])
                    return pipe.execute()
            else:
                cols = ", ".join(["customer_id", "__ts", *FEATURES])

                def raw_client(mmap: bool) -> Callable[[list[int]], Any]:
                    con = sqlite3.connect(store.path)
                    if mmap:  # as the store's own read connections
                        con.execute(f"pragma mmap_size={MMAP_BYTES}")
                    return lambda ids: con.execute(
                        f"select {cols} from fv_bench__g0 where customer_id in ({', '.join('?' * len(ids))})", ids
                    ).fetchall()

            raws = {"raw": raw_client(False), "raw mmap": raw_client(True)} if name == "sqlite" else {"raw": raw_read}
            for size in (1, 100):
                batches = [[rng.randrange(args.entities) for _ in range(size)] for _ in range(args.calls)]
                ours, *bases = measure([lambda ids: client.get_online_features(refs, {"customer_id": ids}), *raws.values()],
                                       batches)
                got = client.get_online_features(refs, {"customer_id": batches[0]})
                assert all(s == "PRESENT" for s in got.statuses[1])
                print(f"{name:6} {size:3} entities: OnlineClient {ours[0]:6.3f} / {ours[1]:6.3f}" + "".join(
                    f"   {label} {b[0]:6.3f} / {b[1]:6.3f} (ratio p50 {ours[0] / b[0]:.2f}x, p99 {ours[1] / b[1]:.2f}x)"
                    for label, b in zip(raws, bases)))
            client.close()
    finally:
        s = open_store(urls["redis"])
        s.drop_all()
        s.close()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
