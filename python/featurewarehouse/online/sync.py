"""``fwctl sync-online``: materialize each online view's latest values into the online store.

Per view, the warehouse computes the latest row per entity key at ``now``
(the point-in-time rules, with ``t = now``) and streams it as Arrow record
batches; the store upserts each batch behind a never-backwards guard.

Incremental rule (see :mod:`featurewarehouse.online.sync_plan` and
docs/operations-sync.md): one scan of the view's table finds the high-water mark
``W`` of its *change column* (``available_timestamp``, else ``created_timestamp``,
else the event ``timestamp``) and counts changed, late and skipped rows; the keys
with a row loaded since the last sync (change column after its ``W``) or visible
only since its time get their latest value recomputed over ALL their rows and
upserted, so a late row (old event time, new load time) and a row loaded with a
future event time are both picked up, and a value never moves backwards. Rows
loaded behind ``W`` make the sync rebuild the view, loudly. The watermark is
stored only after the data is durable, so a crash repeats work but never loses
it. Views whose stored definition differs (keys, features, types, TTL, change
column) are rebuilt in full. Each view is synced under its lock in the store
(:mod:`featurewarehouse.online.locks`).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from featurewarehouse.errors import ConfigError, FwError, ServiceUnavailable, redact
from featurewarehouse.online.base import CREATED_COL, TS_COL, OnlineStore, ViewLayout, ViewState, open_store
from featurewarehouse.online.keys import NO_CREATED, timestamp_micros
from featurewarehouse.online.latest_sql import change_column, latest_values_sql
from featurewarehouse.online.locks import (
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    DEFAULT_LOCK_TTL_SECONDS,
    LockLost,
    LockOwner,
    SyncLocked,
    ttl_from_env,
    view_lock,
)
from featurewarehouse.online.sync_plan import plan_view
from featurewarehouse.online.window_sql import window_state_sql
from featurewarehouse.online.windows import add_state
from featurewarehouse.registry import load_registry

# A gate sees the views about to be synced and raises ChecksFailed to refuse the whole sync
# before anything is written. The validation gate plugs in here.
Gate = Callable[[Sequence[Any]], None]
# progress(view_name, rows_done_in_view, event) with event "start" | "batch" | "done"
Progress = Callable[[str, int, str], None]


@dataclass(frozen=True)
class ViewSyncResult:
    view: str
    mode: str  # "incremental" | "full"
    rows_read: int
    written: int
    skipped_older: int
    expired: int
    seconds: float
    watermark_from: str | None
    watermark_to: str | None
    dry_run: bool = False
    # rows of the view's table no sync serves, by reason (see online/sync_plan.SKIP_REASONS)
    skipped_rows: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class SyncReport:
    store: str
    registry_version: str
    as_of: str
    views: tuple[ViewSyncResult, ...]
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["totals"] = {
            "rows_read": sum(v.rows_read for v in self.views),
            "written": sum(v.written for v in self.views),
            "skipped_older": sum(v.skipped_older for v in self.views),
            "expired": sum(v.expired for v in self.views),
            "skipped_rows": {
                reason: sum(v.skipped_rows.get(reason, 0) for v in self.views)
                for reason in dict.fromkeys(r for v in self.views for r in v.skipped_rows)
            },
            "seconds": round(sum(v.seconds for v in self.views), 3),
        }
        d["warnings"] = [w for v in self.views for w in v.warnings]
        return d

    @property
    def warnings(self) -> list[str]:
        return [w for v in self.views for w in v.warnings]


def _prepare_batch(batch: Any) -> tuple[Any, int]:
    """Drop expired rows; timestamps to int64 micros; NULL created -> sorts lowest."""
    import pyarrow as pa
    import pyarrow.compute as pc

    expired_col = batch.column("__expired")
    n_expired = pc.sum(pc.cast(expired_col, pa.int64())).as_py() or 0
    if n_expired:
        batch = batch.filter(pc.invert(pc.fill_null(expired_col, False)))
    idx_ts = batch.schema.get_field_index(TS_COL)
    idx_c = batch.schema.get_field_index(CREATED_COL)
    ts = timestamp_micros(batch.column(idx_ts))
    created_col = batch.column(idx_c)
    if pa.types.is_null(created_col.type):
        created = pa.array([NO_CREATED] * batch.num_rows, pa.int64())
    else:
        created = pc.fill_null(timestamp_micros(created_col), NO_CREATED)
    cols = list(batch.columns)
    names = list(batch.schema.names)
    cols[idx_ts], cols[idx_c] = ts, created
    keep = [i for i, n in enumerate(names) if n != "__expired"]
    return pa.RecordBatch.from_arrays([cols[i] for i in keep], [names[i] for i in keep]), n_expired


def sync_views(
    warehouse: Any,
    store: OnlineStore,
    registry: Any,
    views: Sequence[Any],
    *,
    full_refresh: bool = False,
    dry_run: bool = False,
    now: _dt.datetime | None = None,
    progress: Progress | None = None,
    batch_rows: int = 65_536,
    on_batch: Callable[[str, int], None] | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    lock_ttl: float = DEFAULT_LOCK_TTL_SECONDS,
) -> tuple[ViewSyncResult, ...]:
    """Sync ``views`` from an open warehouse into an open store. See the module docstring.

    Each view is synced holding its lock in the store (see :mod:`featurewarehouse.online.locks`):
    another sync of it makes this one wait up to ``lock_timeout`` seconds, then raise
    :class:`SyncLocked` naming that sync. A dry run takes no lock.
    """
    now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    results = []
    store.lock_timeout = lock_timeout
    owner = LockOwner.mine()
    for view in views:
        if not warehouse.relation_exists(view.relation):
            raise ConfigError(
                f"the table of feature view {view.name!r} is missing in the warehouse: {view.relation}",
                where=view.original_file_path or None,
                hint=f"build it with `dbt build --select {view.name}`",
            )
        hold = contextlib.nullcontext() if dry_run else view_lock(
            store, view.name, owner=owner, timeout=lock_timeout, ttl=lock_ttl)
        with hold as lock:
            layout = ViewLayout.from_view(view)
            prior = store.view_states().get(view.name)  # read under the lock: the last sync's commit
            started = time.perf_counter()
            plan = plan_view(warehouse, view, prior, now, full_refresh=full_refresh)
            full = plan.mode == "full"
            if plan.mode == "nothing":
                results.append(
                    ViewSyncResult(view.name, "incremental", 0, 0, 0, 0, time.perf_counter() - started,
                                   plan.previous.value.isoformat(), plan.previous.value.isoformat(), dry_run,
                                   plan.skipped_rows, plan.warnings)
                )
                continue
            rolling = layout.rolling is not None
            sorted_keys = store.PREFERS_SORTED_KEYS and warehouse.GLOBAL_SORT_IS_CHEAP
            sql = latest_values_sql(
                view, now, dialect=warehouse.dialect, changed_after=plan.changed_after,
                visible_after=plan.visible_after,
                order_by_keys=sorted_keys and not rolling,
            )
            if rolling:  # and each key's window state, computed at read time (online/windows.py)
                sql = window_state_sql(view, sql, dialect=warehouse.dialect, order_by_keys=sorted_keys)
            rows = written = skipped = expired = 0
            if progress:
                progress(view.name, 0, "start")
            if not dry_run:
                store.begin_view(layout, full_refresh=full)
            try:
                def produce() -> Any:
                    for batch in warehouse.stream(sql, batch_rows):
                        if batch.num_rows == 0:
                            continue
                        prepared, n_exp = _prepare_batch(batch)
                        if rolling:
                            prepared = add_state(layout, prepared)
                        encoded = store.encode_batch(layout, prepared) if (prepared.num_rows and not dry_run) else None
                        yield batch.num_rows, n_exp, prepared.num_rows, encoded

                # a read-ahead thread (the query and Arrow kernels release the GIL) was measured: no gain
                # on 2 shared cores (sqlite 3.45s vs 3.5s, redis 8.2s vs 8.2s for 1M keys), so it stays inline
                for n_read, n_exp, n_kept, encoded in produce():
                    rows += n_read
                    expired += n_exp
                    if encoded is not None:
                        res = store.write_encoded(layout, encoded)
                        written += res.written
                        skipped += res.skipped_older
                    elif dry_run:
                        written += n_kept
                    if progress:
                        progress(view.name, rows, "batch")
                    if on_batch:
                        on_batch(view.name, rows)
                    if lock is not None:
                        lock.check()
                if not dry_run:
                    state = ViewState(
                        layout=layout,
                        registry_version=getattr(registry, "version", "") or "",
                        watermark=plan.next.to_json(),
                        synced_at=now.isoformat(),  # the store sets the generation it wrote (commit_view)
                    )
                    if lock is not None:
                        lock.check()
                    store.commit_view(state)
            except BaseException as exc:
                if not dry_run:
                    try:
                        store.abort_view(layout)
                    except Exception:  # the original error matters more
                        pass
                if isinstance(exc, FwError):
                    raise
                if isinstance(exc, Exception) and type(exc).__module__.startswith(("duckdb", "adbc", "pyarrow", "pyspark")):
                    raise ConfigError(
                        f"the warehouse query for feature view {view.name!r} failed: {exc}",
                        where=view.original_file_path or None,
                        hint=f"check the model with `dbt build --select {view.name}`",
                    ) from exc
                raise
            if progress:
                progress(view.name, rows, "done")
            results.append(
                ViewSyncResult(
                    view.name, plan.mode, rows, written, skipped, expired, time.perf_counter() - started,
                    plan.previous.value.isoformat() if (plan.previous and not full) else None,
                    plan.next.value.isoformat() if plan.next.value else None,
                    dry_run, plan.skipped_rows, plan.warnings,
                )
            )
    return tuple(results)


# An embedded DuckDB warehouse's memory during a sync (it spills to disk beyond it): ranking 10M keys
# otherwise takes several GiB in the fwctl process (measured: 6 GiB peak RSS uncapped, 10M keys x 15
# features). Warehouse.memory_cap restores the previous limit after; engines with a server ignore it.
SYNC_MEMORY_LIMIT = "512MB"


def select_views(registry: Any, select: Sequence[str] | None) -> list[Any]:
    """The online views to sync: all, or those named in ``select`` (with did-you-mean)."""
    online = list(registry.online_views)
    if not online:
        raise ConfigError(
            "the registry has no online feature views",
            hint="set `online: true` in a feature view's config.meta.fw, run `dbt build`, then `fwctl sync-online`",
        )
    if not select:
        return online
    chosen = []
    for name in select:
        view = registry.view(name)  # unknown: did-you-mean
        if not view.online:
            raise ConfigError(
                f"feature view {name!r} is not online",
                where=view.original_file_path or None,
                hint="set `online: true` in its config.meta.fw",
            )
        if view not in chosen:
            chosen.append(view)
    return chosen


def sync_online(
    config: Any,
    *,
    select: Sequence[str] | None = None,
    full_refresh: bool = False,
    store_url: str | None = None,
    dry_run: bool = False,
    gate: Gate | None = None,
    progress: Progress | None = None,
    now: _dt.datetime | None = None,
    registry: Any = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> SyncReport:
    """Sync the project's online views into its online store; returns the report.

    ``gate`` (see :data:`Gate`) runs before anything is written: the validation
    gate refuses the whole sync when a view's checks failed. ``lock_timeout``: how long to
    wait for another sync of a view (see :func:`sync_views`); the locks' TTL comes from
    ``FW_SYNC_LOCK_TTL`` (seconds).
    """
    from featurewarehouse.offline.warehouse import connect

    registry = registry or load_registry(config)
    views = select_views(registry, select)
    if gate is not None:
        gate(views)
    url = store_url or config.online_store
    now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    store = open_store(url)
    try:
        from featurewarehouse.offline.warehouse import read_target

        wh = connect(config)
        # a memory_limit in the profile's settings wins; FW_SYNC_MEMORY_LIMIT=off lifts the cap
        profile_settings = read_target(config).settings.get("settings") or {}
        limit = os.environ.get("FW_SYNC_MEMORY_LIMIT", SYNC_MEMORY_LIMIT)
        if "memory_limit" in profile_settings or limit.lower() in ("off", "none", ""):
            limit = None
        try:
            with wh.memory_cap(limit):
                results = sync_views(wh, store, registry, views, full_refresh=full_refresh, dry_run=dry_run,
                                     now=now, progress=progress, lock_timeout=lock_timeout, lock_ttl=ttl_from_env())
        finally:
            wh.close()
    finally:
        store.close()
    return SyncReport(redact(url), getattr(registry, "version", "") or "", now.isoformat(), results, dry_run)


__all__ = [
    "Gate", "SyncReport", "ViewSyncResult", "latest_values_sql", "sync_online", "sync_views", "select_views",
    "change_column", "ServiceUnavailable", "SyncLocked", "LockLost",
]
