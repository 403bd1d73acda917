"""Online read of a rolling view: 1 entity x 15 window features combined at request time, against
today's plain read of the same 15 stored values, interleaved in one run (issue 18: p99 within 1.5x).

    .venv/bin/python bench/online_rolling_read.py [--entities 20000] [--events 60] [--calls 10000]
        [--redis redis://127.0.0.1:6379/13]

DuckDB generates ``--events`` card payments per customer on average (uniform 1..2x-1) over the
30 days before the sync, with an amount NULL 5% of the time; the view is the latest row per
customer of count, sum, avg and max of the amount over 1h, 24h, 7d and 30d (15 features: no
max_30d). The same table is synced twice into each store: as a rolling view (its window state
stored per key) and as a plain view. Reads are at the sync time plus 0-48 hours (drawn per call),
so the rolling read combines the state at every call; both views are read call by call,
interleaved, for the same customer. Times in ms.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))

from online_read import measure  # noqa: E402

from featurewarehouse.contract.rolling import RollingFeature, RollingSpec, RollingValue  # noqa: E402
from featurewarehouse.offline.warehouse import DuckDBWarehouse  # noqa: E402
from featurewarehouse.online.base import open_store  # noqa: E402
from featurewarehouse.online.sync import sync_views  # noqa: E402
from featurewarehouse.registry.model import Entity, Feature, FeatureView, JoinKey, Registry  # noqa: E402
from featurewarehouse.serving.client import OnlineClient  # noqa: E402

NOW = dt.datetime(2026, 6, 1)
WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
AGGS = [("count", "1", "txn_count", "bigint"), ("sum", "amount", "amount_sum", "double"),
        ("avg", "amount", "amount_avg", "double"), ("max", "amount", "amount_max", "double")]
FEATURES = [(f"{name}_{w}", agg, i + 1, s, t) for i, (agg, _, name, t) in enumerate(AGGS)
            for w, s in WINDOWS.items()][:15]
KEY = JoinKey("customer_id", "bigint")


def generate(db: str, entities: int, events: int) -> None:
    wh = DuckDBWarehouse(db)
    wh.execute(f"""
        create table events as
        with customers as (select range as customer_id, cast(1 + (hash(range) % {2 * events - 1}) as bigint) as n
                           from range({entities}))
        select customer_id,
               timestamp '{NOW}' - to_microseconds(cast(random() * 30 * 86400e6 as bigint)) as event_ts,
               case when random() < 0.05 then null else round(random() * 200, 2) end as amount
        from customers, range(n)""")
    # the view's latest row per customer: its windows as of its last payment
    cols = ", ".join(
        f"{agg if agg != 'count' else 'count'}({'amount' if expr == 'amount' else '*'}) filter "
        f"(where event_ts >= l - interval '{s} seconds') as {name}"
        for name, agg, i, s, _ in FEATURES for expr in [AGGS[i - 1][1]])
    wh.execute(f"""
        create table rolling_view as
        with e as (select *, max(event_ts) over (partition by customer_id) as l from events)
        select customer_id, l as event_ts, {cols} from e group by customer_id, l""")
    wh.close()


def views() -> tuple[FeatureView, FeatureView]:
    spec = RollingSpec(
        source="events", keys=("customer_id",), timestamp="event_ts", exclusive=False, where=None,
        values=tuple(RollingValue(i + 1, agg, expr, t) for i, (agg, expr, _, t) in enumerate(AGGS)),
        features=tuple(RollingFeature(name, agg, i, s, t, rows=agg == "count")
                       for name, agg, i, s, t in FEATURES))
    plain = FeatureView(
        name="plain", relation="rolling_view", entities=("customer",), join_keys=(KEY,), timestamp="event_ts",
        features=tuple(Feature(name, "plain", t) for name, _, _, _, t in FEATURES), ttl_seconds=30 * 86400,
        online=True)
    rolling = dataclasses.replace(plain, name="rolling", rolling=spec,
                                  features=tuple(dataclasses.replace(f, view="rolling") for f in plain.features))
    return plain, rolling


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=60, help="mean payments per customer in 30 days")
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fw_bench_rolling_"))
    db = str(tmp / "wh.duckdb")
    generate(db, args.entities, args.events)
    plain, rolling = views()
    reg = Registry(entities=(Entity("customer", (KEY,)),), feature_views=(plain, rolling), version="bench")
    urls = {"sqlite": f"sqlite:///{tmp / 'online.db'}",
            "redis": f"{args.redis}?prefix=fwbenchw_{uuid.uuid4().hex[:6]}"}
    wh = DuckDBWarehouse(db)
    for url in urls.values():
        store = open_store(url)
        for r in sync_views(wh, store, reg, [plain, rolling], now=NOW):
            print(f"synced {r.view:8} into {url.split(':')[0]:6}: {r.written:,} keys in {r.seconds:.2f}s")
        store.close()
    n_events = wh.fetch_arrow("select count(*) as n from events").column(0)[0].as_py()
    wh.close()

    rng = random.Random(1)
    calls = [(rng.randrange(args.entities), NOW + dt.timedelta(seconds=rng.randrange(48 * 3600)))
             for _ in range(args.calls)]
    print(f"{args.entities:,} customers, {n_events:,} payments; {args.calls:,} calls of 1 customer x 15 features; "
          f"load {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores; ms p50 / p99")
    try:
        for name, url in urls.items():
            clock = [NOW]
            client = OnlineClient(open_store(url), reg, clock=lambda: clock[0])
            refs = {v: [f"{v}:{f.name}" for f in (plain if v == "plain" else rolling).features]
                    for v in ("plain", "rolling")}

            def read(view: str):
                def call(c):
                    clock[0] = c[1]
                    return client.get_online_features(refs[view], {"customer_id": [c[0]]})
                return call

            (p_plain, p_rolling) = measure([read("plain"), read("rolling")], calls)
            print(f"{name:6} plain   {p_plain[0]:6.3f} / {p_plain[1]:6.3f}   rolling {p_rolling[0]:6.3f} / "
                  f"{p_rolling[1]:6.3f}   ratio p50 {p_rolling[0] / p_plain[0]:.2f}x, p99 {p_rolling[1] / p_plain[1]:.2f}x")
            client.close()
    finally:
        s = open_store(urls["redis"])
        s.drop_all()
        s.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
