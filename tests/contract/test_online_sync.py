"""sync-online: incremental moves, late rows, never backwards, atomic full refresh, SIGKILL, faults."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from online_support import Warehouse, cleanup, dump, h, make_view, STORE_KINDS, redis_service_url, registry, store_url  # noqa: I001
from featurewarehouse.errors import ConfigError, ServiceUnavailable
from featurewarehouse.online.base import ViewLayout, open_store
from featurewarehouse.online.locks import SyncLocked
from featurewarehouse.online.sync import sync_views
from featurewarehouse.serving.client import OnlineClient

REPO = Path(__file__).resolve().parents[2]
NOW = h(100)


@pytest.fixture(params=STORE_KINDS)
def kind(request):
    return request.param


@pytest.fixture
def urls(request, kind, tmp_path):
    """Two independent stores of the same kind (the run under test and a reference)."""
    redis_url = redis_service_url(request, kind)
    made = [store_url(kind, tmp_path / name, redis_url) for name in ("a", "b")]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    yield made
    for u in made:
        cleanup(u)


@pytest.fixture
def wh(tmp_path):
    w = Warehouse(tmp_path / "wh.duckdb")
    yield w
    w.close()


def sync(wh, url, views, **kw):
    store = open_store(url)
    try:
        return sync_views(wh.wh, store, registry(*views), views, now=kw.pop("now", NOW), **kw)
    finally:
        store.close()


def read(url, view, ids, feature="cnt", now=NOW):
    c = OnlineClient(open_store(url), registry(view), clock=lambda: now)
    try:
        return c.get_online_features([f"{view.name}:{feature}"], {"customer_id": list(ids)})
    finally:
        c.close()


def test_incremental_moves_only_changed_keys_and_catches_late_rows(wh, urls):
    url = urls[0]
    view = make_view("spend")
    wh.create(view, [{"customer_id": i, "event_ts": h(10), "loaded_at": h(11), "cnt": i} for i in range(1, 101)])
    first = sync(wh, url, [view])[0]
    assert (first.mode, first.rows_read, first.written, first.skipped_older) == ("full", 100, 100, 0)
    assert first.watermark_to == h(11).isoformat()
    # nothing changed: nothing read
    again = sync(wh, url, [view])[0]
    assert (again.mode, again.rows_read, again.written) == ("incremental", 0, 0)
    wh.insert(view, [
        # a newer value for key 1
        {"customer_id": 1, "event_ts": h(20), "loaded_at": h(21), "cnt": 1001},
        # a late row: event time (h5) behind the watermark (h11), loaded after it, for a new key
        {"customer_id": 500, "event_ts": h(5), "loaded_at": h(22), "cnt": 500},
        # a late row for key 2 older than its stored value: recomputed, the stored value stays
        {"customer_id": 2, "event_ts": h(9), "loaded_at": h(23), "cnt": -2},
        # created after `now` (a clock ahead of ours): visible all the same, created_timestamp only breaks
        # ties in the PIT rules, so a full refresh at `now` serves it and so must an incremental sync
        {"customer_id": 3, "event_ts": h(30), "loaded_at": NOW + (h(1) - h(0)), "cnt": 3003},
    ])
    inc = sync(wh, url, [view])[0]
    assert (inc.mode, inc.rows_read, inc.written, inc.skipped_older) == ("incremental", 4, 4, 0)
    assert (inc.watermark_from, inc.watermark_to) == (h(11).isoformat(), h(23).isoformat())
    got = read(url, view, [1, 2, 3, 500])
    assert got.to_dict()["cnt"] == [1001, 2, 3003, 500]
    assert got.event_timestamps[1] == (h(20), h(10), h(30), h(5))
    sync(wh, urls[1], [view], full_refresh=True)
    assert read(urls[1], view, [1, 2, 3, 500]).to_dict() == got.to_dict()
    # once `now` passes its created time, key 3's row is recomputed again (its created time is
    # past the watermark) and rewritten with the same version: nothing moves
    later = sync(wh, url, [view], now=NOW + (h(2) - h(0)))[0]
    assert (later.mode, later.rows_read) == ("incremental", 1)
    assert read(url, view, [3], now=NOW + (h(2) - h(0))).to_dict()["cnt"] == [3003]


def test_latest_wins_whatever_the_row_order_and_older_never_overwrites(wh, urls):
    url = urls[0]
    view = make_view("spend")
    rows = []
    for key in range(1, 51):
        for j in range(8):
            rows.append({"customer_id": key, "event_ts": h(j), "loaded_at": h(j % 3), "cnt": key * 100 + j})
        # same ts as the newest, older created: must lose
        rows.append({"customer_id": key, "event_ts": h(7), "loaded_at": h(0), "cnt": -1})
    random.Random(7).shuffle(rows)
    wh.create(view, rows)
    res = sync(wh, url, [view], batch_rows=64)[0]
    assert (res.rows_read, res.written) == (50, 50)
    assert read(url, view, range(1, 51)).to_dict()["cnt"] == [k * 100 + 7 for k in range(1, 51)]
    # the store already holds a newer value than the warehouse for key 1: it is kept
    store = open_store(url)
    layout = ViewLayout.from_view(view)
    import pyarrow as pa

    store.begin_view(layout, full_refresh=False)
    store.write_batch(layout, pa.RecordBatch.from_pydict({
        "customer_id": pa.array([1], pa.int64()), "__ts": pa.array([int(2e15)], pa.int64()),
        "__cts": pa.array([0], pa.int64()), "cnt": pa.array([999], pa.int64()),
        "amt": pa.array([None], pa.float64()), "cat": pa.array([None], pa.string())}))
    store.commit_view(store.view_states()["spend"])
    store.close()
    wh.insert(view, [{"customer_id": 1, "event_ts": h(50), "loaded_at": h(50), "cnt": 5}])
    res = sync(wh, url, [view])[0]
    assert (res.rows_read, res.written, res.skipped_older) == (1, 0, 1)
    assert read(url, view, [1]).to_dict()["cnt"] == [999]


def test_rows_past_ttl_are_not_written_and_counted(wh, urls):
    url = urls[0]
    view = make_view("spend", ttl_seconds=3600)
    wh.create(view, [
        {"customer_id": 1, "event_ts": NOW - (h(1) - h(0)), "loaded_at": h(0), "cnt": 1},  # exactly ttl old: kept
        {"customer_id": 2, "event_ts": h(10), "loaded_at": h(0), "cnt": 2},  # expired
        {"customer_id": 3, "event_ts": h(10), "loaded_at": h(0), "cnt": 3},  # expired
        {"customer_id": 3, "event_ts": NOW + (h(1) - h(0)), "loaded_at": h(0), "cnt": 33},  # future: not a candidate
    ])
    res = sync(wh, url, [view])[0]
    assert (res.rows_read, res.written, res.expired) == (3, 1, 2)
    got = read(url, view, [1, 2, 3])
    assert got.statuses[1] == ("PRESENT", "NOT_FOUND", "NOT_FOUND")


def test_dry_run_writes_nothing(wh, urls):
    url = urls[0]
    view = make_view("spend")
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in range(10)])
    res = sync(wh, url, [view], dry_run=True)[0]
    assert (res.rows_read, res.written, res.dry_run) == (10, 10, True)
    assert open_store(url).view_states() == {}


def test_full_refresh_is_atomic_for_readers(wh, urls):
    url = urls[0]
    view = make_view("spend")
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in range(1, 301)])
    sync(wh, url, [view])
    wh.wh.execute('delete from "spend" where customer_id > 200')
    wh.wh.execute('update "spend" set cnt = cnt + 1000, loaded_at = ' + "timestamp '2026-01-02'")
    seen = []

    def mid(view_name, rows):  # a reader during the refresh sees only the old generation
        got = read(url, view, range(1, 301))
        seen.append(got.to_dict()["cnt"])

    res = sync(wh, url, [view], full_refresh=True, batch_rows=50, on_batch=mid)[0]
    assert res.mode == "full" and res.written == 200
    assert len(seen) >= 3 and all(s == list(range(1, 301)) for s in seen)
    after = read(url, view, range(1, 301)).to_dict()["cnt"]
    assert after == [i + 1000 for i in range(1, 201)] + [None] * 100


CRASH_SCRIPT = """
import sys, time, json
sys.path.insert(0, {tests!r})
from online_support import make_view, registry, h
from featurewarehouse.offline.warehouse import DuckDBWarehouse
from featurewarehouse.online.base import open_store
from featurewarehouse.online.sync import sync_views
import datetime as dt
view = make_view("spend")
wh = DuckDBWarehouse({wh!r}, read_only=True)
store = open_store({url!r})
def on_batch(name, rows):
    if rows >= 1500:
        print("MID", flush=True)
        time.sleep(120)
sync_views(wh, store, registry(view), [view], now=dt.datetime.fromisoformat({now!r}),
           full_refresh={full!r}, batch_rows=500, on_batch=on_batch)
print("FINISHED", flush=True)
"""


@pytest.mark.parametrize("phase", ["initial", "incremental", "full_refresh"])
def test_sigkill_mid_sync_then_rerun_equals_an_uninterrupted_sync(wh, urls, tmp_path, phase):
    crashed, reference = urls
    view = make_view("spend")
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i, "amt": i / 2, "cat": str(i)}
                     for i in range(5000)])
    if phase != "initial":
        for u in (crashed, reference):
            sync(wh, u, [view])
        wh.insert(view, [{"customer_id": i, "event_ts": h(2 + i % 3), "loaded_at": h(5), "cnt": -i}
                         for i in range(0, 5000, 2)] + [{"customer_id": 9000 + i, "event_ts": h(0), "loaded_at": h(6),
                                                         "cnt": i} for i in range(1000)])
    wh.close()
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT.format(tests=str(Path(__file__).parent), wh=wh.path, url=crashed,
                                          now=NOW.isoformat(), full=phase == "full_refresh"))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    try:
        line = proc.stdout.readline()
        assert line.strip() == "MID", f"the sync did not reach mid-way: {line!r}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    from featurewarehouse.offline.warehouse import DuckDBWarehouse

    wh.wh = DuckDBWarehouse(wh.path, read_only=True)
    # after the kill, readers see a consistent store: the last committed state, except that an
    # incremental sync on Redis (no multi-batch transactions) may have moved some keys forward
    if phase != "initial":
        got = read(crashed, view, [0, 2, 9000]).to_dict()["cnt"]
        if phase == "incremental" and crashed.startswith("redis"):
            assert got[0] in (0, -0) and got[1] in (2, -2) and got[2] in (None, 0)
        else:
            assert got == [0, 2, None]
    rerun = sync(wh, crashed, [view], full_refresh=phase == "full_refresh")[0]
    sync(wh, reference, [view], full_refresh=phase == "full_refresh")
    assert dump(crashed) == dump(reference)
    assert rerun.rows_read == {"initial": 5000, "incremental": 3500, "full_refresh": 6000}[phase]


def test_redis_going_away_mid_sync_leaves_the_last_committed_state(wh, redis_url, request):
    from online_proxy import Proxy

    url = store_url("redis", Path("."), redis_url)
    request.addfinalizer(lambda: cleanup(url))
    host, port = redis_url.split("//")[1].split("/")[0].split(":")
    proxy = Proxy(host, int(port))
    proxied = url.replace(f"{host}:{port}", f"127.0.0.1:{proxy.port}")
    view = make_view("spend")
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in range(3000)])
    sync(wh, url, [view])
    wh.wh.execute("update \"spend\" set cnt = cnt + 1, loaded_at = timestamp '2026-01-01 05:00:00'")

    with pytest.raises(ServiceUnavailable, match="cannot reach the Redis online store"):
        sync(wh, proxied, [view], full_refresh=True, batch_rows=500, on_batch=lambda v, n: proxy.kill(), lock_ttl=1.5)
    assert read(url, view, [0, 2999]).to_dict()["cnt"] == [0, 2999]
    assert json.loads(open_store(url).view_states()["spend"].watermark)["value"] == h(1).isoformat()
    # the failed sync could not release its lock: it refuses others until its TTL passes
    with pytest.raises(SyncLocked, match=r"another sync holds its lock: `fwctl sync-online` on host .* \(pid \d+\)"):
        sync(wh, url, [view], full_refresh=True)
    time.sleep(1.6)
    res = sync(wh, url, [view], full_refresh=True)[0]
    assert res.written == 3000
    assert read(url, view, [0, 2999]).to_dict()["cnt"] == [1, 3000]


def test_faults_are_clear_errors(wh, tmp_path):
    view = make_view("spend")
    with pytest.raises(ServiceUnavailable, match="cannot reach the Redis online store at redis://127.0.0.1:1/0"):
        sync(wh, "redis://127.0.0.1:1/0", [view])
    wh.create(view, [{"customer_id": 1, "event_ts": h(1), "loaded_at": h(1), "cnt": 1}])
    blocker = tmp_path / "afile"
    blocker.write_text("")
    with pytest.raises(ServiceUnavailable, match="cannot open the SQLite online store .*afile/online.db for writing"):
        sync(wh, f"sqlite:///{blocker}/online.db", [view])
    missing = make_view("gone")
    with pytest.raises(ConfigError, match="table of feature view 'gone' is missing in the warehouse: \"gone\""):
        sync(wh, f"sqlite:///{tmp_path}/o.db", [missing])
    from featurewarehouse.online.sync import select_views

    with pytest.raises(ConfigError, match="the registry has no online feature views"):
        select_views(registry(make_view("off", online=False)), None)
    with pytest.raises(ConfigError, match="unknown feature view 'spnd'.*did you mean 'spend'"):
        select_views(registry(view), ["spnd"])


def _project(tmp_path: Path, views, db: Path) -> Path:
    proj = tmp_path / "proj"
    (proj / "target").mkdir(parents=True)
    (proj / "dbt_project.yml").write_text(textwrap.dedent("""\
        name: fwtest
        version: "0.1.0"
        config-version: 2
        profile: featurewarehouse
        vars:
          fw:
            online_store: sqlite:///data/online.db
        """))
    (proj / "profiles.yml").write_text(
        f"featurewarehouse:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {db}\n")
    (proj / "target" / "fw_registry.json").write_text(json.dumps(registry(*views).to_dict(), default=str))
    return proj


def test_cli_exit_codes_and_json(wh, tmp_path, monkeypatch, capsys):
    from featurewarehouse.cli.main import main

    for var in ("FW_ONLINE_STORE", "DBT_TARGET_PATH", "FW_TARGET", "FW_PROJECT_DIR"):
        monkeypatch.delenv(var, raising=False)
    view = make_view("spend")
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in range(5)])
    wh.close()
    proj = _project(tmp_path, [view], Path(wh.path))
    assert main(["sync-online", "--skip-validation", "--project-dir", str(proj), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["totals"]["written"] == 5 and out["views"][0]["mode"] == "full"
    assert (proj / "data" / "online.db").is_file()  # the sqlite path is relative to the project
    assert main(["get-online", "--project-dir", str(proj), "-e", "customer_id=3", "-f", "spend:cnt", "--json"]) == 0
    resp = json.loads(capsys.readouterr().out)
    assert resp["results"][1]["values"] == [3]
    # faults: non-zero exits with the error on stderr
    assert main(["sync-online", "--skip-validation", "--project-dir", str(proj), "--store", "redis://:pw@127.0.0.1:1/0"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Redis online store" in err and ":pw@" not in err
    assert main(["sync-online", "--skip-validation", "--project-dir", str(proj), "--store", "mongodb://x"]) == 2
    assert main(["sync-online", "--skip-validation", "--project-dir", str(proj), "--select", "nope"]) == 2
    assert "unknown feature view 'nope'" in capsys.readouterr().err
    off = _project(tmp_path / "off", [make_view("spend", online=False)], Path(wh.path))
    assert main(["sync-online", "--skip-validation", "--project-dir", str(off)]) == 2
    assert "no online feature views" in capsys.readouterr().err
