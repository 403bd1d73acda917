"""ONE contract suite for every online store (SQLite and Redis): same inputs, same answers."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from online_support import CUSTOMER, MERCHANT, cleanup, h, make_view, STORE_KINDS, redis_service_url, registry, store_url  # noqa: I001
from featurewarehouse.errors import ConfigError, ServiceUnavailable
from featurewarehouse.online.base import ViewLayout, ViewState, open_store
from featurewarehouse.online.keys import NO_CREATED, encode_key, encode_keys_arrow, micros
from featurewarehouse.serving.client import OnlineClient

TYPED = make_view(
    "typed",
    features=(("n", "bigint"), ("x", "double"), ("s", "varchar"), ("b", "boolean"), ("t", "timestamp"), ("d", "date")),
)
PAIR = make_view("pair", keys=(CUSTOMER, MERCHANT), features=(("score", "double"),))
STRKEY = make_view("bystr", keys=(CUSTOMER.__class__("code", "varchar"),), features=(("v", "bigint"),))


@pytest.fixture(params=STORE_KINDS)
def url(request, tmp_path):
    redis_url = redis_service_url(request, request.param)
    u = store_url(request.param, tmp_path, redis_url)
    yield u
    cleanup(u)


def batch(view, rows):
    """An Arrow batch in the store's input shape from dict rows (ts/created as datetimes)."""
    cols = {}
    types = {"bigint": pa.int64(), "double": pa.float64(), "varchar": pa.string(), "boolean": pa.bool_(),
             "timestamp": pa.timestamp("us"), "date": pa.date32()}
    for k in view.join_keys:
        cols[k.name] = pa.array([r[k.name] for r in rows], types[k.dtype])
    cols["__ts"] = pa.array([micros(r["ts"]) for r in rows], pa.int64())
    cols["__cts"] = pa.array([micros(r["cts"]) if r.get("cts") else NO_CREATED for r in rows], pa.int64())
    for f in view.features:
        cols[f.name] = pa.array([r.get(f.name) for r in rows], types[f.dtype])
    return pa.RecordBatch.from_pydict(cols)


def write(url, view, rows, *, full=False, version="v1"):
    store = open_store(url)
    layout = ViewLayout.from_view(view)
    store.begin_view(layout, full_refresh=full)
    res = store.write_batch(layout, batch(view, rows))
    store.commit_view(ViewState(layout, version, None, "2026-01-01T00:00:00"))
    store.close()
    return res


def client(url, *views, clock=None, reg=True):
    return OnlineClient(open_store(url), registry(*views) if reg else None, clock=clock or (lambda: h(24)))


def test_values_of_every_type_round_trip_with_statuses(url):
    rows = [
        {"customer_id": 1, "ts": h(1), "n": -5, "x": 0.1, "s": "", "b": True, "t": h(0.5), "d": dt.date(2025, 12, 31)},
        {"customer_id": 2, "ts": h(2), "n": None, "x": 1e300, "s": "a|b=c", "b": False, "t": None, "d": None},
    ]
    write(url, TYPED, rows)
    got = client(url, TYPED).get_online_features(["typed:*"], [{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}])
    assert got.feature_names == ("customer_id", "n", "x", "s", "b", "t", "d")
    assert got.feature_refs == ("typed:n", "typed:x", "typed:s", "typed:b", "typed:t", "typed:d")  # wildcard expanded
    assert got.to_dict() == {
        "customer_id": [1, 2, 3],
        "n": [-5, None, None], "x": [0.1, 1e300, None], "s": ["", "a|b=c", None], "b": [True, False, None],
        "t": [h(0.5), None, None], "d": [dt.date(2025, 12, 31), None, None],
    }
    assert got.statuses[1] == ("PRESENT", "NULL_VALUE", "NOT_FOUND")
    assert got.statuses[5] == ("PRESENT", "NULL_VALUE", "NOT_FOUND")
    assert got.event_timestamps[1] == (h(1), h(2), None)
    assert got.statuses[0] == ("PRESENT", "PRESENT", "PRESENT")


def test_a_value_never_moves_backwards_across_and_inside_batches(url):
    view = make_view("spend")
    assert write(url, view, [{"customer_id": 1, "ts": h(5), "cnt": 5}]) .written == 1
    # older event time: refused; same ts but older created: refused; newer created: taken
    res = write(url, view, [
        {"customer_id": 1, "ts": h(4), "cnt": 4},
        {"customer_id": 1, "ts": h(5), "cts": h(1), "cnt": 51},
        {"customer_id": 1, "ts": h(5), "cts": h(2), "cnt": 52},
        {"customer_id": 1, "ts": h(5), "cts": h(1), "cnt": 53},
    ])
    assert (res.written, res.skipped_older) == (2, 2)
    # inside one batch, newest first then older: the older rows are skipped
    res = write(url, view, [{"customer_id": 2, "ts": h(9), "cnt": 9}, {"customer_id": 2, "ts": h(3), "cnt": 3},
                            {"customer_id": 2, "ts": h(8), "cnt": 8}])
    assert (res.written, res.skipped_older) == (1, 2)
    got = client(url, view).get_online_features(["spend:cnt"], {"customer_id": [1, 2]})
    assert got.to_dict()["cnt"] == [52, 9]
    # equal version rewrites (idempotent reruns)
    res = write(url, view, [{"customer_id": 2, "ts": h(9), "cnt": 9}])
    assert (res.written, res.skipped_older) == (1, 0)


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0]])
def test_duplicates_inside_one_batch_of_a_full_refresh_keep_the_newest(url, order):
    view = make_view("spend")
    rows = [{"customer_id": 7, "ts": h(1), "cnt": 1}, {"customer_id": 7, "ts": h(3), "cnt": 3},
            {"customer_id": 7, "ts": h(2), "cnt": 2}]
    res = write(url, view, [rows[i] for i in order], full=True)
    assert res.written + res.skipped_older == 3
    assert client(url, view).get_online_features(["spend:cnt"], [{"customer_id": 7}]).to_dict()["cnt"] == [3]


@pytest.mark.parametrize("full", [True, False])
def test_a_large_shuffled_batch_keeps_the_newest_of_each_key(url, full):
    # 600 rows, 3 versions of each of 200 keys scattered across the batch: SQLite binds them
    # to several multi-row statements, so duplicates straddle statement boundaries
    import random

    view = make_view("spend")
    rows = [{"customer_id": k, "ts": h(v), "cnt": None if (k % 7 == 0 and v == 3) else 100 * k + v}
            for k in range(200) for v in (1, 2, 3)]
    random.Random(5).shuffle(rows)
    res = write(url, view, rows, full=full)
    assert res.written + res.skipped_older == 600
    got = client(url, view).get_online_features(["spend:cnt"], {"customer_id": [0, 1, 7, 150, 199, 200]})
    assert got.to_dict()["cnt"] == [None, 103, None, 15003, 19903, None]
    assert got.statuses[1] == ("NULL_VALUE", "PRESENT", "NULL_VALUE", "PRESENT", "PRESENT", "NOT_FOUND")


def test_composite_and_typed_keys_never_collide(url):
    write(url, PAIR, [{"customer_id": 1, "merchant_id": 23, "ts": h(1), "score": 1.0},
                      {"customer_id": 12, "merchant_id": 3, "ts": h(1), "score": 2.0}])
    got = client(url, PAIR).get_online_features(
        ["pair:score"], [{"customer_id": 1, "merchant_id": 23}, {"customer_id": 12, "merchant_id": 3},
                         {"customer_id": 1, "merchant_id": 3}])
    assert got.to_dict()["score"] == [1.0, 2.0, None]
    write(url, STRKEY, [{"code": "a|b", "ts": h(1), "v": 1}, {"code": "a", "ts": h(1), "v": 2}, {"code": "42", "ts": h(1), "v": 3}])
    c = client(url, STRKEY)
    assert c.get_online_features(["bystr:v"], {"code": ["a|b", "a", "b", "42"]}).to_dict()["v"] == [1, 2, None, 3]
    with pytest.raises(ConfigError, match="join key 'code' must be a string, got int 42"):
        c.get_online_features(["bystr:v"], {"code": [42]})


@pytest.mark.parametrize("view", [make_view("spend"), PAIR], ids=["one key", "composite key"])
def test_a_request_larger_than_one_statement_reads_every_key_in_order(url, view, monkeypatch):
    import featurewarehouse.online.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "KEYS_PER_READ", 7)  # SQLite splits the request into statements of 7 keys
    feature = view.features[0].name

    def key(k):
        return {"customer_id": k, "merchant_id": k % 3} if view is PAIR else {"customer_id": k}

    write(url, view, [{**key(k), "ts": h(1), feature: k} for k in range(0, 40, 2)], full=True)  # even keys
    write(url, view, [{**key(k), "ts": h(2), feature: 100 + k} for k in range(0, 40, 8)])  # some newer, in the delta
    keys = [k for k in range(39, -1, -1)] + [8, 8, 3]  # every key, newest-first, then duplicates and a missing one
    got = client(url, view).get_online_features([f"{view.name}:{feature}"], [key(k) for k in keys])
    want = [None if k % 2 else 100 + k if k % 8 == 0 else k for k in keys]
    assert list(got.to_dict()[feature]) == want
    assert got.statuses[-1] == tuple("NOT_FOUND" if v is None else "PRESENT" for v in want)


def test_key_encoding_is_the_same_in_bulk_and_one_by_one():
    keys = [(1, "a|b"), (-7, ""), (12, "é:|")]
    bulk = encode_keys_arrow([pa.array([k[0] for k in keys]), pa.array([k[1] for k in keys])], ["int", "str"])
    assert bulk.to_pylist() == [encode_key(k, ["int", "str"]) for k in keys]
    assert encode_key((1, "a|b"), ["int", "str"]) != encode_key((1, "a"), ["int", "str"])
    assert bulk.to_pylist()[2] == "i12|s4:é:|"


def test_outside_max_age_at_read_time(url):
    view = make_view("ttl", ttl_seconds=3600)
    write(url, view, [{"customer_id": 1, "ts": h(10), "cnt": 1}, {"customer_id": 2, "ts": h(11), "cnt": 2}])
    got = client(url, view, clock=lambda: h(11)).get_online_features(["ttl:cnt"], {"customer_id": [1, 2]})
    assert got.statuses[1] == ("PRESENT", "PRESENT")  # exactly ttl old is still served (inclusive)
    got = client(url, view, clock=lambda: h(11) + dt.timedelta(microseconds=1)).get_online_features(
        ["ttl:cnt"], {"customer_id": [1, 2]})
    assert got.statuses[1] == ("OUTSIDE_MAX_AGE", "PRESENT")
    assert got.values[1] == (None, 2)
    assert got.event_timestamps[1] == (h(10), h(11))


def test_full_refresh_swaps_atomically(url):
    view = make_view("spend")
    write(url, view, [{"customer_id": i, "ts": h(1), "cnt": i} for i in range(1, 6)])
    reader = client(url, view)
    store = open_store(url)
    layout = ViewLayout.from_view(view)
    store.begin_view(layout, full_refresh=True)
    store.write_batch(layout, batch(view, [{"customer_id": i, "ts": h(2), "cnt": 100 + i} for i in range(1, 4)]))
    # before the commit, readers see all old values
    assert reader.get_online_features(["spend:cnt"], {"customer_id": [1, 2, 3, 4, 5]}).to_dict()["cnt"] == [1, 2, 3, 4, 5]
    store.commit_view(ViewState(layout, "v1", None, "x"))
    store.close()
    got = reader.get_online_features(["spend:cnt"], {"customer_id": [1, 2, 3, 4, 5]})
    assert got.to_dict()["cnt"] == [101, 102, 103, None, None]
    assert got.statuses[1][3:] == ("NOT_FOUND", "NOT_FOUND")


def test_the_store_keeps_a_registry_copy_and_readers_notice_changes(url):
    view = make_view("spend")
    write(url, view, [{"customer_id": 1, "ts": h(1), "cnt": 1, "amt": 2.5}])
    # no project registry at all: the stored copy is enough
    bare = client(url, reg=False)
    assert bare.get_online_features(["spend:amt"], [{"customer_id": 1}]).to_dict()["amt"] == [2.5]
    states = open_store(url).view_states()
    assert states["spend"].layout.feature_names == ("cnt", "amt", "cat")
    assert states["spend"].registry_version == "v1"
    assert states["spend"].layout.definition["relation"] == '"spend"'
    # the project changed the view (a new feature) but did not re-sync: refused with the fix
    changed = make_view("spend", features=(("cnt", "bigint"), ("amt", "double"), ("cat", "varchar"), ("new", "bigint")))
    with pytest.raises(ConfigError, match="changed since it was synced") as err:
        client(url, changed).get_online_features(["spend:cnt"], [{"customer_id": 1}])
    assert "--full-refresh" in str(err.value)
    # a re-sync with the new shape is picked up by a reader that cached the old one
    write(url, changed, [{"customer_id": 1, "ts": h(2), "cnt": 7, "new": 70}], full=True, version="v2")
    assert bare.get_online_features(["spend:new"], [{"customer_id": 1}]).to_dict()["new"] == [70]


def test_a_reader_that_cached_a_view_reads_its_new_shape_after_a_resync(url):
    # same name, same number of features: only the layout's signature tells them apart
    write(url, make_view("spend"), [{"customer_id": 1, "ts": h(1), "cnt": 1, "amt": 2.5, "cat": "a"}])
    bare = client(url, reg=False)
    assert bare.get_online_features(["spend:*"], [{"customer_id": 1}]).to_dict()["cnt"] == [1]
    renamed = make_view("spend", features=(("n", "bigint"), ("amt", "double"), ("cat", "varchar")))
    write(url, renamed, [{"customer_id": 1, "ts": h(2), "n": 5, "amt": 3.5, "cat": "b"}], full=True, version="v2")
    assert bare.get_online_features(["spend:*"], [{"customer_id": 1}]).to_dict() == {
        "customer_id": [1], "n": [5], "amt": [3.5], "cat": ["b"]}


def test_errors_name_the_problem_and_suggest(url):
    view = make_view("spend")
    write(url, view, [{"customer_id": 1, "ts": h(1), "cnt": 1}])
    c = client(url, view)
    with pytest.raises(ConfigError, match="no feature 'cnnt'.*did you mean 'cnt'"):
        c.get_online_features(["spend:cnnt"], [{"customer_id": 1}])
    with pytest.raises(ConfigError, match="unknown feature view 'spnd'.*did you mean 'spend'"):
        c.get_online_features(["spnd:cnt"], [{"customer_id": 1}])
    with pytest.raises(ConfigError, match="lack join key 'customer_id'.*did you mean 'customerid'"):
        c.get_online_features(["spend:cnt"], [{"customerid": 1}])
    with pytest.raises(ConfigError, match="must be an integer, got str '1'"):
        c.get_online_features(["spend:cnt"], [{"customer_id": "1"}])
    with pytest.raises(ConfigError, match="unknown join key 'merchant_id'"):
        c.get_online_features(["spend:cnt"], [{"customer_id": 1, "merchant_id": 2}])
    with pytest.raises(ConfigError, match="malformed feature reference"):
        c.get_online_features(["spend"], [{"customer_id": 1}])
    other = make_view("other", features=(("cnt", "bigint"),))
    write(url, other, [{"customer_id": 1, "ts": h(1), "cnt": 5}])
    c2 = client(url, view, other)
    with pytest.raises(ConfigError, match="'cnt' is in both 'spend' and 'other'"):
        c2.get_online_features(["spend:cnt", "other:cnt"], [{"customer_id": 1}])
    got = c2.get_online_features(["spend:cnt", "other:cnt"], [{"customer_id": 1}], full_feature_names=True)
    assert got.to_dict() == {"customer_id": [1], "spend__cnt": [1], "other__cnt": [5]}


def test_feast_response_shape(url):
    view = make_view("spend")
    write(url, view, [{"customer_id": 1, "ts": h(1), "cnt": 3}])
    resp = client(url, view).get_online_features(["spend:cnt"], {"customer_id": [1, 2]}).to_feast_response()
    assert resp == {
        "metadata": {"feature_names": ["customer_id", "cnt"]},
        "results": [
            {"values": [1, 2], "statuses": ["PRESENT", "PRESENT"],
             "event_timestamps": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]},
            {"values": [3, None], "statuses": ["PRESENT", "NOT_FOUND"],
             "event_timestamps": ["2026-01-01T01:00:00Z", "1970-01-01T00:00:00Z"]},
        ],
    }


def test_unknown_scheme_gets_did_you_mean():
    with pytest.raises(ConfigError, match="unknown online store URL scheme 'reddis'. did you mean 'redis'"):
        open_store("reddis://localhost:6379/0")


def test_redis_passwords_never_appear_in_errors(redis_url):
    host = redis_url.split("//")[1].split("/")[0]
    with pytest.raises(ServiceUnavailable) as err:
        open_store(f"redis://nouser:hunter2secret@{host}/15")
    assert "hunter2secret" not in str(err.value)
    assert "refused the credentials in redis://nouser:***@" in str(err.value)
    with pytest.raises(ServiceUnavailable) as err:
        open_store("rediss://user:hunter2secret@127.0.0.1:1/0")
    assert "hunter2secret" not in str(err.value)


def test_an_incremental_sync_costs_a_reader_nothing_and_a_full_refresh_one_reload(url, monkeypatch):
    view = make_view("spend")
    write(url, view, [{"customer_id": 1, "ts": h(1), "cnt": 1}])
    reader = client(url, reg=False)  # its clock: h(24)
    reader.get_online_features(["spend:cnt"], [{"customer_id": 1}])
    calls = []
    real = reader.store.view_states
    monkeypatch.setattr(reader.store, "view_states", lambda: calls.append(1) or real())
    write(url, view, [{"customer_id": 1, "ts": h(2), "cnt": 2}])  # incremental: same generation
    for _ in range(5):
        assert reader.get_online_features(["spend:cnt"], [{"customer_id": 1}]).to_dict()["cnt"] == [2]
    assert calls == []
    # a changed definition (here the TTL) always comes with a full refresh: the reader's
    # generation is gone, it reloads once and serves with the new TTL
    write(url, make_view("spend", ttl_seconds=3600), [{"customer_id": 1, "ts": h(3), "cnt": 3}], full=True)
    for _ in range(5):
        got = reader.get_online_features(["spend:cnt"], [{"customer_id": 1}])
        assert got.statuses[1] == ("OUTSIDE_MAX_AGE",) and got.to_dict()["cnt"] == [None]
    assert calls == [1]

def test_sqlite_store_leaves_no_wal_behind_after_a_sync(tmp_path):
    """The last connection to close checkpoints and removes the WAL; when the read-only one
    closed last the WAL stayed, and it grew by every later sync's pages."""
    import os

    url = f"sqlite:///{tmp_path / 'online.db'}"
    view = make_view("spend")
    layout = ViewLayout.from_view(view)
    for i in range(3):
        store = open_store(url)
        store.view_states()  # as the sync does: opens the read connection
        store.begin_view(layout, full_refresh=False)
        store.write_batch(layout, batch(view, [{"customer_id": j, "ts": h(i + 1), "cnt": i} for j in range(500)]))
        store.commit_view(ViewState(layout, "v1", None, "2026-01-01T00:00:00"))
        store.close()
        assert not os.path.exists(tmp_path / "online.db-wal")
    assert client(url, reg=False).get_online_features(["spend:cnt"], [{"customer_id": 7}]).to_dict()["cnt"] == [2]


def test_redis_reads_every_view_of_a_request_in_one_round_trip(redis_url, tmp_path, monkeypatch):
    from featurewarehouse.online import redis_wire

    url = store_url("redis", tmp_path, redis_url)
    try:
        spend, pair = make_view("spend"), PAIR
        write(url, spend, [{"customer_id": 1, "ts": h(1), "cnt": 1}, {"customer_id": 2, "ts": h(1), "cnt": 2}])
        write(url, pair, [{"customer_id": 1, "merchant_id": 7, "ts": h(1), "score": 0.5}])
        reader = client(url, spend, pair)
        trips = []
        real = redis_wire.round_trip
        monkeypatch.setattr(redis_wire, "round_trip", lambda *a: trips.append(1) or real(*a))
        one = reader.get_online_features(["spend:cnt", "pair:score"], [{"customer_id": 1, "merchant_id": 7}])
        assert one.to_dict() == {"customer_id": [1], "merchant_id": [7], "cnt": [1], "score": [0.5]}
        many = reader.get_online_features(["spend:cnt", "pair:score"], {"customer_id": [2, 1], "merchant_id": [7, 7]})
        assert many.to_dict() == {"customer_id": [2, 1], "merchant_id": [7, 7], "cnt": [2, 1], "score": [None, 0.5]}
        assert trips == [1, 1]
        # a full refresh of one of the views: the shared round trip notices, the reader reloads once
        write(url, pair, [{"customer_id": 1, "merchant_id": 7, "ts": h(2), "score": 0.9}], full=True)
        again = reader.get_online_features(["spend:cnt", "pair:score"], [{"customer_id": 1, "merchant_id": 7}])
        assert again.to_dict()["score"] == [0.9] and len(trips) == 4
    finally:
        cleanup(url)


@pytest.mark.parametrize("view", [make_view("spend"), PAIR], ids=["one key", "composite key"])
def test_sqlite_incremental_writes_go_to_a_delta_that_merges_once_it_outgrows_its_share(tmp_path, view):
    import sqlite3

    from featurewarehouse.online.sqlite import DELTA_MERGE_SHARE, delta_name, table_name

    url = f"sqlite:///{tmp_path / 'online.db'}"
    feature = view.features[0].name

    def key(k):
        return {"customer_id": k, "merchant_id": k % 3} if view is PAIR else {"customer_id": k}

    def rows(keys, hour, base):
        return [{**key(k), "ts": h(hour), feature: base + k} for k in keys]

    def tables():
        con = sqlite3.connect(tmp_path / "online.db")
        try:
            main = dict(con.execute(f'select "customer_id", "{feature}" from "{table_name(view.name, 0)}"').fetchall())
            delta = dict(con.execute(f'select "customer_id", "{feature}" from "{delta_name(view.name, 0)}"').fetchall())
            (count,) = con.execute("select v from fw_meta where k = ?", (f"rows:{view.name}",)).fetchone()
            return main, delta, int(count)
        finally:
            con.close()

    def read(keys):
        c = client(url, view)
        try:
            many = c.get_online_features([f"{view.name}:{feature}"], [key(k) for k in keys]).to_dict()[feature]
            one = [c.get_online_features([f"{view.name}:{feature}"], [key(k)]).to_dict()[feature][0] for k in keys]
        finally:
            c.close()
        assert many == one
        return many

    write(url, view, rows(range(100), 1, 0), full=True)
    below = int(DELTA_MERGE_SHARE * 100) - 2  # changed keys that stay under the share, with the new key below
    # newer values for keys 0..below-1, an older one for key 50 (refused), a key the main table lacks
    res = write(url, view, rows(range(below), 2, 1000) + rows([50], 0, -1) + rows([500], 2, 0))
    assert (res.written, res.skipped_older) == (below + 1, 1)
    main, delta, count = tables()
    assert (len(main), main[0], main[50], count) == (100, 0, 50, 100)  # the main table is untouched
    assert delta == {**{k: 1000 + k for k in range(below)}, 500: 500}
    assert read([0, 50, 500, 999, 0]) == [1000, 50, 500, None, 1000]
    # a newer value for a key already in the delta replaces it there; an older one is refused by the delta row
    res = write(url, view, rows([0], 3, 2000) + rows([1], 1.5, -1))
    assert (res.written, res.skipped_older) == (1, 1)
    assert read([0, 1]) == [2000, 1001]
    # a NULL in the delta hides the main table's value (key 20 has 20 there)
    write(url, view, [{**key(20), "ts": h(3), feature: None}])
    assert read([20, 21]) == [None, 21]
    # two more keys cross the share: the delta is merged into the main table and emptied
    res = write(url, view, rows([60, 61], 2, 1000))
    main, delta, count = tables()
    assert (delta, len(main), count) == ({}, 101, 101)
    assert (main[0], main[1], main[20], main[50], main[60], main[500]) == (2000, 1001, None, 50, 1060, 500)
    assert read([0, 1, 20, 50, 60, 500, 999]) == [2000, 1001, None, 50, 1060, 500, None]
    # a full refresh starts a new generation with an empty delta and drops both old tables
    write(url, view, rows(range(3), 5, 0), full=True)
    con = sqlite3.connect(tmp_path / "online.db")
    names = {n for (n,) in con.execute("select name from sqlite_master where type = 'table'")}
    con.close()
    assert names == {"fw_meta", "fw_locks", table_name(view.name, 1), delta_name(view.name, 1)}
    assert read([0, 60]) == [0, None]


def test_a_sqlite_store_synced_before_deltas_existed_gets_one_on_its_next_incremental_sync(tmp_path):
    import sqlite3

    from featurewarehouse.online.sqlite import delta_name

    url = f"sqlite:///{tmp_path / 'online.db'}"
    view = make_view("spend")
    write(url, view, [{"customer_id": 1, "ts": h(1), "cnt": 1}], full=True)
    con = sqlite3.connect(tmp_path / "online.db")
    con.execute(f'drop table "{delta_name("spend", 0)}"')
    con.execute("delete from fw_meta where k = 'rows:spend'")
    con.commit()
    con.close()
    with pytest.raises(ConfigError, match="full-refresh"):
        client(url, view).get_online_features(["spend:cnt"], [{"customer_id": 1}])
    write(url, view, [{"customer_id": 2, "ts": h(1), "cnt": 2}])
    got = client(url, view).get_online_features(["spend:cnt"], {"customer_id": [1, 2]})
    assert got.to_dict()["cnt"] == [1, 2]
