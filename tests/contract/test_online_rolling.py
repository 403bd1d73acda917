"""Rolling views online: the value served at request time t is the window at t (issue 18).

dbt builds the rolling fixture project (tests/dbt/rolling_project, the real macros) once; the
registry is built from its manifest, so the views carry the rolling spec the macro recorded.
Each generated dataset (ties, NULL keys/timestamps/values, filters, exclusive windows, events on
window edges) refills `events` and re-executes the models' compiled SQL; the views are synced
into each store and read at several times after the sync (inside windows, exactly on and just
past `t - d` edges, past the longest window and the TTL). Every served value must equal the
brute-force reference at that time (tests/dbt/rolling_reference.at_time), and the statuses and
event timestamps keep their meaning (latest row's time; OUTSIDE_MAX_AGE past the view's TTL).
"""
from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TESTS = Path(__file__).resolve().parents[1]
for extra in (TESTS, TESTS / "dbt"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from online_support import STORE_KINDS, cleanup, redis_service_url, registry, store_url  # noqa: E402
from pit_project import Runner, build, fill_statements, make_project  # noqa: E402
from rolling_reference import at_time, same, window_seconds  # noqa: E402
from test_rolling_properties import EVENT_COLUMNS, FIXTURE, SPECS, T0, event  # noqa: E402

from featurewarehouse.offline.warehouse import DuckDBWarehouse  # noqa: E402
from featurewarehouse.online.base import open_store  # noqa: E402
from featurewarehouse.online.sync import sync_views  # noqa: E402
from featurewarehouse.registry.builder import build_from_manifest  # noqa: E402
from featurewarehouse.serving.client import OnlineClient  # noqa: E402

VIEWS = ["rolling_all", "rolling_exclusive", "rolling_incremental_lifetime"]
US = timedelta(microseconds=1)


def online_views(project: Path) -> list:
    """The fixture's views as the registry reads them from dbt's manifest, made online."""
    import yaml

    manifest = json.loads((project / "target" / "manifest.json").read_text())
    entities = yaml.safe_load((project / "dbt_project.yml").read_text())["vars"]["fw"]["entities"]
    reg = build_from_manifest(manifest, entities).registry
    return [dataclasses.replace(reg.view(name), online=True) for name in VIEWS]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("online_rolling"), FIXTURE)
    result = build(project, "dev")
    runner = Runner("dev", project)
    wh = DuckDBWarehouse.__new__(DuckDBWarehouse)
    wh.path, wh.con = "(fixture)", runner.con
    yield result, runner, wh, online_views(project)
    runner.close()


@pytest.fixture
def built_postgres(tmp_path, postgres_uri, pg_schema):
    from featurewarehouse.offline.warehouse import PostgresWarehouse

    project = make_project(tmp_path / "pg", FIXTURE)
    result = build(project, "postgres", pg_schema)
    runner = Runner("postgres", project, postgres_uri)
    wh = PostgresWarehouse.__new__(PostgresWarehouse)
    wh.uri, wh.con = postgres_uri, runner.con
    yield result, runner, wh, online_views(project)
    runner.close()


def test_the_registry_carries_the_rolling_spec(built):
    result, _, _, views = built
    spec = {v.name: v for v in views}["rolling_exclusive"].rolling
    assert spec.source == result.relation["events"]
    assert spec.keys == ("customer_id", "merchant_id") and spec.exclusive and spec.timestamp == "ts"
    assert {f.name: f.seconds for f in spec.features}["sum_amount_5m"] == 300
    assert {f.name: f.seconds for f in spec.features}["count_lifetime"] is None


def refill(runner: Runner, result, rows: list[dict]) -> None:
    statements = fill_statements(result.relation["events"], EVENT_COLUMNS, rows)
    for name in VIEWS:
        statements += [f"delete from {result.relation[name]}", f"insert into {result.relation[name]} {result.sql[name]}"]
    runner.execute(statements)


def read_times(rows: list[dict], sync_at: datetime, windows: set[str], draw_extra: list[int]) -> list[datetime]:
    """The sync time, every event's window edges after it (on the edge and a microsecond past),
    times past the longest window and TTL, and a few drawn ones."""
    times = {sync_at, sync_at + US, sync_at + timedelta(hours=5)}
    spans = [timedelta(seconds=s) for s in filter(None, map(window_seconds, windows))]
    for r in rows:
        if r["ts"] is None:
            continue
        for d in spans:
            for t in (r["ts"] + d, r["ts"] + d + US):
                if t >= sync_at:
                    times.add(t)
    times.update(sync_at + timedelta(seconds=s) for s in draw_extra)
    return sorted(times)


def check_view(client: OnlineClient, view, rows: list[dict], sync_at: datetime, t: datetime) -> int:
    spec = SPECS[view.name]
    keys = sorted({tuple(r[k] for k in spec.keys) for r in rows if all(r[k] is not None for k in spec.keys)})
    if not keys:
        return 0
    got = client.get_online_features([f"{view.name}:*"], [dict(zip(spec.keys, key)) for key in keys])
    data = got.to_dict()
    n = len(spec.keys)
    names = got.feature_names[n:]
    ttl = timedelta(seconds=view.ttl_seconds) if view.ttl_seconds else None
    for j, key in enumerate(keys):
        visible = [r for r in rows if tuple(r[k] for k in spec.keys) == key and r["ts"] is not None]
        latest = max((r["ts"] for r in visible), default=None)
        want = at_time(spec, rows, key, t, ttl)
        statuses = {got.statuses[n + i][j] for i in range(len(names))}
        stamps = {got.event_timestamps[n + i][j] for i in range(len(names))}
        if latest is None:
            assert statuses == {"NOT_FOUND"}, (view.name, key)
            continue
        if ttl is not None and latest < sync_at - ttl:
            # expired at the sync's time: a full sync does not write it, an incremental one leaves an
            # earlier sync's row (as for every view); never served
            assert statuses in ({"NOT_FOUND"}, {"OUTSIDE_MAX_AGE"}), (view.name, key)
            assert all(data[c][j] is None for c in names)
            continue
        assert stamps == {latest}, (view.name, key, t)  # the latest row's time, as for every view
        if want is None:
            assert statuses == {"OUTSIDE_MAX_AGE"}, (view.name, key, t)
            assert all(data[c][j] is None for c in names)
            continue
        for i, c in enumerate(names):
            assert same(data[c][j], want[c]), (view.name, key, str(t), c, data[c][j], want[c])
            assert got.statuses[n + i][j] == ("NULL_VALUE" if want[c] is None else "PRESENT"), (view.name, key, c)
    return len(keys)


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_served_windows_equal_the_reference_at_request_time(built, kind, tmp_path, request):
    check_parity(built, kind, tmp_path, request)


@pytest.mark.postgres
def test_served_windows_equal_the_reference_from_postgres(built_postgres, tmp_path, request):
    check_parity(built_postgres, "sqlite", tmp_path, request, examples=15)


def check_parity(built, kind, tmp_path, request, examples=25):
    result, runner, wh, views = built
    redis_url = redis_service_url(request, kind)
    counter = iter(range(10**6))

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(rows=st.lists(event(), max_size=40), extra=st.lists(st.integers(1, 4 * 3600), max_size=3))
    def check(rows: list[dict], extra: list[int]) -> None:
        refill(runner, result, rows)
        sync_at = max((r["ts"] for r in rows if r["ts"] is not None), default=T0)
        directory = tmp_path / str(next(counter))
        directory.mkdir()
        url = store_url(kind, directory, redis_url)
        try:
            store = open_store(url)
            sync_views(wh, store, registry(*views), views, now=sync_at)
            store.close()
            check_reads(url, views, rows, sync_at, extra)
        finally:
            cleanup(url)

    check()


def check_reads(url: str, views, rows: list[dict], sync_at, extra: list[int]) -> None:
    """Every view read back from the store at ``url`` at each of read_times(...) equals the reference."""
    now = [sync_at]
    client = OnlineClient(open_store(url), registry(*views), clock=lambda: now[0])
    try:
        for now[0] in read_times(rows, sync_at, {w for s in SPECS.values() for w in s.windows}, extra):
            for view in views:
                check_view(client, view, rows, sync_at, now[0])
    finally:
        client.close()


@st.composite
def base_and_later(draw) -> tuple[list[dict], list[dict]]:
    """Base rows, then rows strictly after their latest instant (an incremental sync's change column is
    the event time: a row at the last sync's watermark instant is its documented blind spot)."""
    base = draw(st.lists(event(), min_size=1, max_size=25))
    latest = max((r["ts"] for r in base if r["ts"] is not None), default=T0)
    later = st.integers(1, 30).map(lambda k: latest + timedelta(minutes=2 * k))
    return base, draw(st.lists(event(ts=later), min_size=1, max_size=12))


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_an_incremental_sync_keeps_the_window_state_right(built, kind, tmp_path, request):
    result, runner, wh, views = built
    redis_url = redis_service_url(request, kind)
    counter = iter(range(10**6))

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=base_and_later(), extra=st.lists(st.integers(1, 3 * 3600), max_size=2))
    def check(case: tuple[list[dict], list[dict]], extra: list[int]) -> None:
        base, new = case
        directory = tmp_path / str(next(counter))
        directory.mkdir()
        url = store_url(kind, directory, redis_url)
        try:
            first_at = max((r["ts"] for r in base if r["ts"] is not None), default=T0)
            refill(runner, result, base)
            store = open_store(url)
            sync_views(wh, store, registry(*views), views, now=first_at)
            rows = base + new
            sync_at = max(r["ts"] for r in rows if r["ts"] is not None)
            refill(runner, result, rows)
            modes = {r.view: r.mode for r in sync_views(wh, store, registry(*views), views, now=sync_at)}
            store.close()
            check_reads(url, views, rows, sync_at, extra)
            incremental.extend(name for name, mode in modes.items() if mode == "incremental")
        finally:
            cleanup(url)

    incremental: list[str] = []
    check()
    assert incremental, "no example took the incremental path"
