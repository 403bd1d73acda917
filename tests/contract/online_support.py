"""Helpers for the online-store tests: stores on tmp files / a Redis prefix of their own,
small DuckDB warehouses, and registry records built directly (no demo, no dbt)."""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

from featurewarehouse.offline.warehouse import DuckDBWarehouse
from featurewarehouse.online.base import open_store
from featurewarehouse.registry.model import Entity, Feature, FeatureView, JoinKey, Registry

T0 = dt.datetime(2026, 1, 1)
CUSTOMER = JoinKey("customer_id", "bigint")
MERCHANT = JoinKey("merchant_id", "bigint")
ENTITIES = (Entity("customer", (CUSTOMER,)), Entity("merchant", (MERCHANT,)))


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def make_view(
    name: str = "spend",
    *,
    relation: str | None = None,
    keys: Sequence[JoinKey] = (CUSTOMER,),
    features: Sequence[tuple[str, str]] = (("cnt", "bigint"), ("amt", "double"), ("cat", "varchar")),
    created: str | None = "loaded_at",
    available: str | None = None,
    ttl_seconds: int | None = None,
    online: bool = True,
) -> FeatureView:
    return FeatureView(
        name=name,
        relation=relation or f'"{name}"',
        entities=tuple("merchant" if k.name == "merchant_id" else "customer" for k in keys),
        join_keys=tuple(keys),
        timestamp="event_ts",
        features=tuple(Feature(f, name, t) for f, t in features),
        created_timestamp=created,
        available_timestamp=available,
        ttl_seconds=ttl_seconds,
        online=online,
    )


def registry(*views: FeatureView, version: str = "v1") -> Registry:
    return Registry(entities=ENTITIES, feature_views=tuple(views), version=version)


# every store the shared suites run on: a file, a single Redis, a 3-node Redis Cluster
STORE_KINDS = ["sqlite", "redis", "redis_cluster"]


def redis_service_url(request: Any, kind: str) -> str | None:
    """The server URL behind a store kind (its session fixture), None for SQLite."""
    if kind == "sqlite":
        return None
    return request.getfixturevalue("redis_cluster_url" if kind == "redis_cluster" else "redis_url")


def store_url(kind: str, tmp_path: Path, redis_url: str | None) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'online.db'}"
    return f"{redis_url}?prefix=fwtest_{uuid.uuid4().hex[:10]}"


def cleanup(url: str) -> None:
    if url.startswith("redis"):
        store = open_store(url)
        store.drop_all()
        store.close()


class Warehouse:
    """A tmp DuckDB warehouse with a writable connection (tests insert rows between syncs)."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.wh = DuckDBWarehouse(self.path)

    def create(self, view: FeatureView, rows: Iterable[dict[str, Any]] = ()) -> None:
        cols = [k.name + " " + k.dtype for k in view.join_keys]
        cols += ["event_ts timestamp", "loaded_at timestamp", "available_at timestamp"]
        cols += [f"{f.name} {f.dtype}" for f in view.features]
        self.wh.execute(f"create or replace table {view.relation} ({', '.join(cols)})")
        self.insert(view, rows)

    def insert(self, view: FeatureView, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        import pyarrow as pa

        types = {"bigint": pa.int64(), "double": pa.float64(), "varchar": pa.string(), "boolean": pa.bool_(),
                 "timestamp": pa.timestamp("us"), "date": pa.date32()}
        cols = [(k.name, k.dtype) for k in view.join_keys]
        cols += [("event_ts", "timestamp"), ("loaded_at", "timestamp"), ("available_at", "timestamp")]
        cols += [(f.name, f.dtype) for f in view.features]
        data = pa.table({n: pa.array([r.get(n) for r in rows], types[t]) for n, t in cols})
        self.wh.con.register("__fw_rows", data)
        self.wh.con.execute(f"insert into {view.relation} ({', '.join(n for n, _ in cols)}) select * from __fw_rows")
        self.wh.con.unregister("__fw_rows")

    def close(self) -> None:
        self.wh.close()


def dump(url: str) -> Any:
    """Everything a store holds except the commit counter, for equality checks."""
    import json

    store = open_store(url)
    try:
        if url.startswith("sqlite"):
            import sqlite3

            con = sqlite3.connect(store.path)
            out = {}
            for (name,) in con.execute("select name from sqlite_master where type='table' order by name"):
                rows = con.execute(f'select * from "{name}"').fetchall()
                if name == "fw_meta":
                    rows = [r for r in rows if r[0] != "epoch"]
                out[name] = sorted(rows, key=repr)
            con.close()
            return out
        client = store.client
        out = {}
        strip = len(store.prefix)
        for key in client.scan_iter(match=f"{store.prefix}:*", count=1000):
            if key.endswith(b":meta"):
                meta = client.hgetall(key)
                meta.pop(b"epoch", None)
                value: Any = {k: json.loads(v) if k.startswith(b"view:") else v for k, v in meta.items()}
            else:
                value = client.hgetall(key)
            out[key[strip:]] = value
        return out
    finally:
        store.close()
