"""One sync per view per store: the lock in the store, its expiry, and the interleavings of
issue 20 (a stalled incremental sync + a full refresh; two full refreshes) with readers polling."""
from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from online_support import Warehouse, cleanup, h, make_view, STORE_KINDS, redis_service_url, registry, store_url  # noqa: I001
from featurewarehouse.offline.warehouse import DuckDBWarehouse
from featurewarehouse.online.base import ViewLayout, ViewState, open_store
from featurewarehouse.online.locks import LockLost, LockOwner, SyncLocked, view_lock
from featurewarehouse.online.sync import sync_views
from featurewarehouse.serving.client import OnlineClient

NOW = h(100)
KEYS = range(1, 401)


@pytest.fixture(params=STORE_KINDS)
def url(request, tmp_path):
    redis_url = redis_service_url(request, request.param)
    u = store_url(request.param, tmp_path, redis_url)
    yield u
    cleanup(u)


@pytest.fixture
def wh(tmp_path):
    w = Warehouse(tmp_path / "wh.duckdb")
    yield w
    w.close()


def cursor_of(wh: Warehouse) -> DuckDBWarehouse:
    """A warehouse on its own DuckDB cursor: one per thread (a connection is not thread-safe)."""
    w = DuckDBWarehouse.__new__(DuckDBWarehouse)
    w.path, w.con = wh.path, wh.wh.con.cursor()
    return w


def sync(warehouse, url, view, **kw):
    store = open_store(url)
    try:
        return sync_views(warehouse, store, registry(view), [view], now=kw.pop("now", NOW), **kw)[0]
    finally:
        store.close()


def other_owner(pid: int | None = None, host: str | None = None) -> LockOwner:
    me = LockOwner.mine()
    return dataclasses.replace(me, token="other" + me.token[5:], pid=pid or me.pid, host=host or me.host)


def test_a_held_lock_refuses_others_names_its_holder_and_only_its_owner_releases_it(url):
    store, other = open_store(url), open_store(url)
    a, b = LockOwner.mine(), other_owner(host="elsewhere")
    try:
        assert store.acquire_view_lock("spend", a, 30) == (True, None)
        ok, holder = other.acquire_view_lock("spend", b, 30)
        assert not ok and (holder.host, holder.pid, holder.started_at) == (a.host, a.pid, a.started_at)
        assert other.acquire_view_lock("other_view", b, 30)[0]  # locks are per view
        other.release_view_lock("spend", b)  # not its lock: nothing happens
        assert not other.acquire_view_lock("spend", b, 30)[0]
        assert store.renew_view_lock("spend", a, 30) and not other.renew_view_lock("spend", b, 30)
        store.release_view_lock("spend", a)
        assert other.acquire_view_lock("spend", b, 30) == (True, None)
    finally:
        store.close()
        other.close()


def test_a_lock_expires_after_its_ttl_and_a_dead_local_holder_frees_it_at_once(url):
    store = open_store(url)
    try:
        assert store.acquire_view_lock("spend", other_owner(host="elsewhere"), 0.5)[0]
        assert not store.acquire_view_lock("spend", LockOwner.mine(), 30)[0]
        time.sleep(0.7)
        assert store.acquire_view_lock("spend", LockOwner.mine(), 30)[0]
        # a holder on this host whose process is gone (a crashed or killed sync)
        import subprocess
        import sys

        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        assert store.acquire_view_lock("other", other_owner(pid=int(dead.stdout)), 600)[0]
        assert store.acquire_view_lock("other", LockOwner.mine(), 30)[0]
    finally:
        store.close()


def test_the_renewer_keeps_a_long_sync_s_lock_past_its_ttl(url):
    store, other = open_store(url), open_store(url)
    try:
        with view_lock(store, "spend", ttl=0.6) as lock:
            time.sleep(1.5)
            assert not other.acquire_view_lock("spend", other_owner(host="elsewhere"), 30)[0]
            lock.check()
        assert other.acquire_view_lock("spend", other_owner(host="elsewhere"), 30)[0]
    finally:
        store.close()
        other.close()


class Readers:
    """Threads reading every key in a loop; records any key found missing."""

    def __init__(self, url, view, keys):
        self.url, self.view, self.keys = url, view, list(keys)
        self.stop = threading.Event()
        self.missing: list[int] = []
        self.reads = 0
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        client = OnlineClient(open_store(self.url), registry(self.view), clock=lambda: NOW)
        try:
            while not self.stop.is_set():
                got = client.get_online_features([f"{self.view.name}:cnt"], {"customer_id": self.keys}).to_dict()
                self.missing += [k for k, v in zip(self.keys, got["cnt"]) if v is None]
                self.reads += 1
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.errors.append(exc)
        finally:
            client.close()

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        assert not self.errors, self.errors
        assert self.reads >= 3
        assert self.missing == [], f"readers got NOT_FOUND for {len(self.missing)} keys that exist before and after"


@pytest.mark.parametrize("first", ["incremental", "full_refresh"])
def test_a_stalled_sync_and_a_full_refresh_of_the_same_view(wh, url, first):
    """Issue 20: a stalled incremental sync + a full refresh left the Redis view empty; two full
    refreshes made readers get NOT_FOUND. Now the second waits for the first (or is refused, naming it)."""
    view = make_view("spend")
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in KEYS])
    sync(cursor_of(wh), url, view)
    wh.insert(view, [{"customer_id": i, "event_ts": h(2), "loaded_at": h(2), "cnt": i + 1000} for i in KEYS])
    readers = Readers(url, view, KEYS)
    stalled, go = threading.Event(), threading.Event()

    def stall(name, rows):
        stalled.set()
        assert go.wait(30)

    out: dict[str, object] = {}

    def first_sync():
        try:
            out["first"] = sync(cursor_of(wh), url, view, full_refresh=first == "full_refresh", batch_rows=100,
                                on_batch=stall, lock_ttl=1.0)
        except BaseException as exc:  # noqa: BLE001
            out["first"] = exc

    t = threading.Thread(target=first_sync)
    t.start()
    assert stalled.wait(30)
    # refused at once, naming the sync that holds the view
    me = LockOwner.mine()
    t0 = time.monotonic()
    with pytest.raises(SyncLocked, match=f"another sync holds its lock: `fwctl sync-online` on host {me.host} "
                                         rf"\(pid {os.getpid()}\), started 20") as refused:
        sync(cursor_of(wh), url, view, full_refresh=True)
    assert time.monotonic() - t0 < 5
    assert "--lock-timeout" in str(refused.value)
    # with --lock-timeout it waits, past the stalled sync's TTL (the renewer keeps it), then runs
    threading.Timer(2.5, go.set).start()
    second = sync(cursor_of(wh), url, view, full_refresh=True, lock_timeout=30)
    t.join(30)
    readers.finish()
    assert not isinstance(out["first"], BaseException), out["first"]
    assert second.mode == "full" and second.written == len(KEYS)
    got = OnlineClient(open_store(url), registry(view), clock=lambda: NOW).get_online_features(
        ["spend:cnt"], {"customer_id": list(KEYS)}).to_dict()["cnt"]
    assert got == [i + 1000 for i in KEYS]


def _state(view) -> ViewState:
    return ViewState(ViewLayout.from_view(view), "v1", None, NOW.isoformat())


def test_redis_commit_refuses_a_generation_a_full_refresh_replaced(wh, request):
    """Without the lock (a bypass, or a lock lost), an incremental commit must not switch the view
    back to the generation a full refresh deleted: it fails loudly and readers keep every key."""
    import pyarrow as pa

    url = store_url("redis", None, request.getfixturevalue("redis_url"))
    request.addfinalizer(lambda: cleanup(url))
    view = make_view("spend", features=(("cnt", "bigint"),))
    layout = ViewLayout.from_view(view)

    def batch(value):
        return pa.record_batch({"customer_id": pa.array(list(KEYS), pa.int64()),
                                "__ts": pa.array([value] * len(KEYS), pa.int64()),
                                "__cts": pa.array([value] * len(KEYS), pa.int64()),
                                "cnt": pa.array([value] * len(KEYS), pa.int64())})

    seed, incremental, full = open_store(url), open_store(url), open_store(url)
    seed.begin_view(layout, full_refresh=True)
    seed.write_batch(layout, batch(1))
    seed.commit_view(_state(view))
    incremental.begin_view(layout, full_refresh=False)  # stalls here
    full.begin_view(layout, full_refresh=True)
    full.write_batch(layout, batch(2))
    full.commit_view(_state(view))
    incremental.write_batch(layout, batch(3))
    with pytest.raises(LockLost, match="refused to commit feature view 'spend': its live generation .* changed from 0 to 1"):
        incremental.commit_view(_state(view))
    client = OnlineClient(open_store(url), registry(view), clock=lambda: NOW)
    assert client.get_online_features(["spend:cnt"], {"customer_id": list(KEYS)}).to_dict()["cnt"] == [2] * len(KEYS)
    for s in (seed, incremental, full):
        s.close()


def test_redis_commit_refuses_when_the_lock_was_taken_by_another_sync(url):
    if not url.startswith("redis"):
        pytest.skip("SQLite fences with its write transaction: the lock cannot be taken while a view is written")
    view = make_view("spend", features=(("cnt", "bigint"),))
    layout = ViewLayout.from_view(view)
    store, thief = open_store(url), open_store(url)
    me = LockOwner.mine()
    assert store.acquire_view_lock("spend", me, 0.3)[0]
    store.begin_view(layout, full_refresh=True)
    time.sleep(0.5)  # no renewer here: the lock expires
    assert thief.acquire_view_lock("spend", other_owner(host="elsewhere"), 30)[0]
    with pytest.raises(LockLost, match="no longer holds its lock"):
        store.commit_view(_state(view))
    assert store.view_states() == {}
    store.close()
    thief.close()


def test_a_second_sqlite_writer_is_told_who_writes_within_the_lock_timeout(wh, tmp_path):
    """Issue 20: a second SQLite writer waited 31 s, then said "database is locked" with a hint
    about directory permissions. Now it waits --lock-timeout and names the sync writing."""
    url = f"sqlite:///{tmp_path / 'online.db'}"
    spend, other = make_view("spend"), make_view("other")
    for v in (spend, other):
        wh.create(v, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in range(50)])
    sync(cursor_of(wh), url, other)
    stalled, go = threading.Event(), threading.Event()
    t = threading.Thread(target=lambda: sync(cursor_of(wh), url, spend, batch_rows=10,
                                             on_batch=lambda *a: (stalled.set(), go.wait(30))))
    t.start()
    assert stalled.wait(30)
    t0 = time.monotonic()
    try:
        with pytest.raises(SyncLocked) as refused:
            sync(cursor_of(wh), url, other, full_refresh=True, lock_timeout=1.5)
        took = time.monotonic() - t0
    finally:
        go.set()
        t.join(30)
    text = str(refused.value)
    assert "the store's one writer is busy with the sync of feature view 'spend'" in text
    assert f"host {socket.gethostname()} (pid {os.getpid()})" in text and "directory" not in text
    assert 1.5 <= took < 6
    assert sync(cursor_of(wh), url, other, full_refresh=True).mode == "full"


def test_cli_refuses_a_locked_view_with_exit_1_and_waits_with_lock_timeout(wh, tmp_path, monkeypatch, capsys):
    from test_online_sync import _project

    from featurewarehouse.cli.main import main

    for var in ("FW_ONLINE_STORE", "DBT_TARGET_PATH", "FW_TARGET", "FW_PROJECT_DIR"):
        monkeypatch.delenv(var, raising=False)
    view = make_view("spend")
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in range(5)])
    wh.close()
    proj = _project(tmp_path, [view], Path(wh.path))
    url = f"sqlite:///{proj / 'data' / 'online.db'}"
    holder = other_owner(host="batch-7")
    store = open_store(url)
    assert store.acquire_view_lock("spend", holder, 3.0)[0]
    store.close()
    args = ["sync-online", "--skip-validation", "--project-dir", str(proj)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "feature view 'spend' cannot be synced now: another sync holds its lock" in err
    assert f"on host batch-7 (pid {holder.pid}), started {holder.started_at}" in err and "--lock-timeout" in err
    assert main([*args, "--lock-timeout", "10", "--json"]) == 0  # the lock expires within the wait
    assert '"written": 5' in capsys.readouterr().out
