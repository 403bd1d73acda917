"""The Redis store on a 3-node Redis Cluster against a single Redis, in the same run.

    .venv/bin/python bench/online_cluster.py [--size 200000] [--rounds 3] [--calls 3000] [--redis redis://127.0.0.1:6379/13]

Starts a throwaway cluster from ``redis-server`` (tests/redis_cluster_support.py; all nodes and the
single Redis on this machine) and measures, on the same rows (latest value of N entities x 15 features):
- full sync rows/s (warehouse query + Arrow streaming + writes + commit), single Redis then cluster
  in each of ``--rounds`` rounds, medians and per-round ratios;
- p50/p99 of ``OnlineClient.get_online_features`` for 100 entities x 15 features, calls interleaved
  (single, cluster, single, ...) on the same keys. The cluster store's prefix is picked so its meta
  hash is on another node than the view's data: the usual case (2 in 3), whose reads take two
  round trips (data, then the generation check).
Target (issue 19): the cluster within 1.5x of the single Redis on both.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from online_read import measure  # noqa: E402
from online_write import FEATURES, generate, registry, sync_once, timed, view  # noqa: E402
from redis_cluster_support import redis_cluster  # noqa: E402

from featurewarehouse.offline.warehouse import DuckDBWarehouse  # noqa: E402
from featurewarehouse.online.base import open_store  # noqa: E402
from featurewarehouse.serving.client import OnlineClient  # noqa: E402


def cluster_store_url(cluster: str, view_name: str, generation: int) -> str:
    """A prefix whose meta hash is not on the node of the view's ``generation``."""
    probe = open_store(cluster)
    try:
        data_node = probe.client.get_node_from_key(probe.data_prefix(view_name, generation))
        while True:
            prefix = f"fwbenchc_{uuid.uuid4().hex[:6]}"
            if probe.client.get_node_from_key(f"{prefix}:meta") != data_node:
                return f"{cluster}?prefix={prefix}"
    finally:
        probe.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=3_000)
    ap.add_argument("--redis", default=os.environ.get("FW_BENCH_REDIS", "redis://127.0.0.1:6379/13"))
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fw_bench_cluster_"))
    db = str(tmp / "wh.duckdb")
    generate(db, args.size)
    v = view()
    reg = registry(v)
    try:
        with redis_cluster(tmp / "cluster") as cluster:
            # each round is a full refresh into a new generation; reads meet the last one
            urls = {"single": f"{args.redis}?prefix=fwbenchs_{uuid.uuid4().hex[:6]}",
                    "cluster": cluster_store_url(cluster, v.name, args.rounds - 1)}
            run(args, urls, db, v, reg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, urls: dict[str, str], db: str, v, reg) -> None:
    wh = DuckDBWarehouse(db)
    try:
        secs: dict[str, list[float]] = {k: [] for k in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                t, result = timed(lambda: sync_once(wh, url, v, full=True))
                assert result.written == args.size, result
                secs[name].append(t)
        rate = {k: args.size / statistics.median(s) for k, s in secs.items()}
        ratios = ", ".join(f"{c / s:.2f}x" for s, c in zip(secs["single"], secs["cluster"]))
        print(f"{args.size:,} entities x {len(FEATURES)} features; medians of {args.rounds} rounds")
        print(f"full sync  single Redis {rate['single']:>10,.0f} rows/s   cluster {rate['cluster']:>10,.0f} rows/s   "
              f"cluster time / single time {rate['single'] / rate['cluster']:.2f}x [{ratios}]")
    finally:
        wh.close()
    clients = {k: OnlineClient(open_store(u), reg) for k, u in urls.items()}
    try:
        store = clients["cluster"].store
        gen = store.view_states()[v.name].generation
        print(f"cluster reads: generation {gen} on {store.client.get_node_from_key(store.data_prefix(v.name, gen)).name}, "
              f"meta hash on {store.client.get_node_from_key(store._meta).name}")
        refs = [f"{v.name}:{f}" for f in FEATURES]
        rng = random.Random(1)
        batches = [[rng.randrange(args.size) for _ in range(100)] for _ in range(args.calls)]
        calls = [lambda ids, c=c: c.get_online_features(refs, {"customer_id": ids}) for c in clients.values()]
        single, clus = measure(calls, batches)
        for c in clients.values():
            got = c.get_online_features(refs, {"customer_id": batches[0]})
            assert all(s == "PRESENT" for s in got.statuses[1])
        print(f"100-entity read  single Redis {single[0]:.3f} / {single[1]:.3f} ms   cluster {clus[0]:.3f} / {clus[1]:.3f} ms "
              f"(p50 / p99; ratio p50 {clus[0] / single[0]:.2f}x, p99 {clus[1] / single[1]:.2f}x)")
    finally:
        for c in clients.values():
            c.store.drop_all()
            c.close()


if __name__ == "__main__":
    main()
