"""An incremental sync always equals a full refresh at the same time (issue 20), on generated
histories of loads (rows with event time, load time, values) and syncs, on SQLite and Redis;
and the bad rows a sync skips are counted and named."""
from __future__ import annotations

import datetime as dt
import json
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from online_support import Warehouse, cleanup, h, make_view, STORE_KINDS, redis_service_url, registry, store_url  # noqa: I001
from featurewarehouse.online.base import open_store
from featurewarehouse.online.sync import sync_views
from featurewarehouse.serving.client import OnlineClient

KEYS = list(range(1, 6))

# a row: key, event time relative to the load (hours; negative = an old event, positive = a
# future one), the lag of its created/available time behind (or ahead of) the load, a value
row_st = st.tuples(
    st.sampled_from(KEYS), st.integers(-30, 6), st.integers(-8, 4), st.integers(0, 3),
)
# a step: rows loaded at the current clock, then the clock moves on (hours), then a sync
step_st = st.tuples(st.lists(row_st, max_size=6), st.integers(0, 6))
history_st = st.tuples(st.sampled_from(["created", "available", "none"]), st.lists(step_st, min_size=1, max_size=6))


def _served(url, view, now):
    client = OnlineClient(open_store(url), registry(view), clock=lambda: now)
    try:
        got = client.get_online_features([f"{view.name}:cnt"], {"customer_id": KEYS})
        return got.to_dict()["cnt"], list(got.event_timestamps[1])
    finally:
        client.close()


def _sync(wh, url, view, now, **kw):
    store = open_store(url)
    try:
        return sync_views(wh.wh, store, registry(view), [view], now=now, **kw)[0]
    finally:
        store.close()


@pytest.mark.parametrize("kind", STORE_KINDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=history_st)
def test_after_each_incremental_sync_the_store_equals_a_full_refresh(kind, history, request):
    load_col, steps = history
    redis_url = redis_service_url(request, kind)
    view = make_view("spend", features=(("cnt", "bigint"),),
                     created="loaded_at" if load_col == "created" else None,
                     available="available_at" if load_col == "available" else None)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wh = Warehouse(tmp / "wh.duckdb")
        (tmp / "inc").mkdir()
        (tmp / "full").mkdir()
        inc, full = store_url(kind, tmp / "inc", redis_url), store_url(kind, tmp / "full", redis_url)
        try:
            wh.create(view)
            clock, n = h(0), 0
            for rows, advance in steps:
                loaded = []
                for key, event, lag, value in rows:
                    n += 1
                    at = clock + dt.timedelta(hours=lag)
                    loaded.append({"customer_id": key, "event_ts": clock + dt.timedelta(hours=event),
                                   "loaded_at": at, "available_at": at, "cnt": value * 1000 + n})
                wh.insert(view, loaded)
                clock += dt.timedelta(hours=advance, minutes=1)
                _sync(wh, inc, view, clock)
                _sync(wh, full, view, clock, full_refresh=True)
                assert _served(inc, view, clock) == _served(full, view, clock), (load_col, steps)
        finally:
            wh.close()
            cleanup(inc)
            cleanup(full)


@pytest.fixture(params=STORE_KINDS)
def url(request, tmp_path):
    redis_url = redis_service_url(request, request.param)
    u = store_url(request.param, tmp_path, redis_url)
    yield u
    cleanup(u)


@pytest.fixture
def wh(tmp_path):
    w = Warehouse(tmp_path / f"wh_{uuid.uuid4().hex[:6]}.duckdb")
    yield w
    w.close()


def test_a_row_loaded_with_a_future_event_time_is_picked_up_once_it_is_due(wh, url):
    """Issue 20: candidates need ts <= now but the window was on load time only: the row was
    NOT_FOUND until a --full-refresh."""
    view = make_view("spend", features=(("cnt", "bigint"),))
    wh.create(view, [{"customer_id": 1, "event_ts": h(1), "loaded_at": h(1), "cnt": 1},
                     {"customer_id": 2, "event_ts": h(5), "loaded_at": h(1), "cnt": 2}])
    assert _sync(wh, url, view, h(2)).mode == "full"
    assert _served(url, view, h(2))[0][:2] == [1, None]
    later = _sync(wh, url, view, h(6))
    assert (later.mode, later.rows_read) == ("incremental", 1)
    assert _served(url, view, h(6))[0][:2] == [1, 2]


def test_late_rows_behind_the_watermark_of_a_view_without_load_time_rebuild_it_loudly(wh, url):
    view = make_view("spend", features=(("cnt", "bigint"),), created=None)
    wh.create(view, [{"customer_id": 1, "event_ts": h(5), "cnt": 1}])
    _sync(wh, url, view, h(6))
    wh.insert(view, [{"customer_id": 2, "event_ts": h(3), "cnt": 2}])  # behind the watermark h5
    res = _sync(wh, url, view, h(7))
    assert res.mode == "full"
    assert _served(url, view, h(7))[0][:2] == [1, 2]
    (warning,) = res.warnings
    assert "feature view 'spend': 1 rows were loaded at or behind the last sync's watermark" in warning
    assert "rebuilt in full" in warning and "declare created_timestamp" in warning
    # nothing new: an incremental sync that reads nothing, and no warning
    again = _sync(wh, url, view, h(8))
    assert (again.mode, again.rows_read, again.warnings) == ("incremental", 0, ())


def test_skipped_rows_are_counted_by_reason_and_named_in_warnings(wh, url):
    view = make_view("spend", features=(("cnt", "bigint"),), available="available_at")
    wh.create(view, [
        {"customer_id": 1, "event_ts": h(1), "available_at": h(1), "cnt": 1},
        {"customer_id": None, "event_ts": h(1), "available_at": h(1), "cnt": 2},
        {"customer_id": None, "event_ts": h(1), "available_at": h(1), "cnt": 3},
        {"customer_id": 4, "event_ts": None, "available_at": h(1), "cnt": 4},
        {"customer_id": 5, "event_ts": dt.datetime(2999, 1, 1), "available_at": h(1), "cnt": 5},
        {"customer_id": 6, "event_ts": h(1), "available_at": None, "cnt": 6},
    ])
    res = _sync(wh, url, view, h(10))
    assert res.skipped_rows == {"null_key": 2, "null_timestamp": 1, "future_event_time": 1,
                                "null_available_timestamp": 1}
    assert res.written == 1
    text = "\n".join(res.warnings)
    assert "feature view 'spend': 2 rows skipped: a NULL join key" in text
    assert "1 rows skipped: an event time after the sync time" in text
    assert "1 rows skipped: a NULL available_timestamp" in text
    # the incremental sync after it reports them again (they are still skipped), reading nothing
    again = _sync(wh, url, view, h(11))
    assert again.rows_read == 0 and again.skipped_rows["null_key"] == 2


def test_sync_json_output_carries_the_skipped_rows_and_warnings(tmp_path, monkeypatch, capsys):
    from test_online_sync import _project

    from featurewarehouse.cli.main import main

    for var in ("FW_ONLINE_STORE", "DBT_TARGET_PATH", "FW_TARGET", "FW_PROJECT_DIR"):
        monkeypatch.delenv(var, raising=False)
    w = Warehouse(tmp_path / "wh.duckdb")
    view = make_view("spend")
    w.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in range(3)]
             + [{"customer_id": None, "event_ts": h(1), "loaded_at": h(1), "cnt": 9}])
    w.close()
    proj = _project(tmp_path, [view], Path(w.path))
    assert main(["sync-online", "--skip-validation", "--project-dir", str(proj), "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["views"][0]["skipped_rows"]["null_key"] == 1 and out["totals"]["skipped_rows"]["null_key"] == 1
    assert out["warnings"] == ["feature view 'spend': 1 rows skipped: a NULL join key; fill or filter the key in the model"]
    assert main(["sync-online", "--skip-validation", "--project-dir", str(proj)]) == 0
    assert "WARNING: feature view 'spend': 1 rows skipped: a NULL join key" in capsys.readouterr().err


def test_an_upsert_that_moves_rows_forward_stays_incremental(wh, url):
    """A dbt `merge` rewrites rows with a later load time: fewer rows behind the watermark, all of
    them in the window. That is no reason to rebuild the view."""
    view = make_view("spend", features=(("cnt", "bigint"),))
    wh.create(view, [{"customer_id": i, "event_ts": h(1), "loaded_at": h(1), "cnt": i} for i in KEYS])
    _sync(wh, url, view, h(2))
    wh.wh.execute(f"update spend set cnt = cnt + 100, event_ts = timestamp '{h(3)}', loaded_at = timestamp '{h(3)}' "
                  "where customer_id <= 2")
    res = _sync(wh, url, view, h(4))
    assert (res.mode, res.rows_read, res.warnings) == ("incremental", 2, ())
    assert _served(url, view, h(4))[0] == [101, 102, 3, 4, 5]
