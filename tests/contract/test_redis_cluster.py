"""What is particular to the Redis store on a Redis Cluster (the shared suites also run there):
its key layout keeps every script on one slot, views spread over the nodes, and reads check
the live generation after their data even when the meta hash lives on another node."""
from __future__ import annotations

import uuid

import pytest

from online_support import cleanup, h, make_view  # noqa: I001
from featurewarehouse.errors import ConfigError, ServiceUnavailable
from featurewarehouse.online import redis_wire
from featurewarehouse.online.base import StaleLayout, ViewLayout, open_store
from test_online_store_contract import client, write

SPEND = make_view("spend")


def _url_where(cluster_url: str, same_node: bool) -> str:
    """A store URL whose meta hash is (or is not) on the node of ``spend`` generation 0."""
    probe = open_store(cluster_url)
    try:
        data_node = probe.client.get_node_from_key(probe.data_prefix("spend", 0) + "i1")
        for _ in range(200):
            prefix = f"fwtest_{uuid.uuid4().hex[:10]}"
            if (probe.client.get_node_from_key(f"{prefix}:meta") == data_node) == same_node:
                return f"{cluster_url}?prefix={prefix}"
    finally:
        probe.close()
    raise AssertionError("no prefix found on the wanted node")


@pytest.fixture
def url(redis_cluster_url):
    u = _url_where(redis_cluster_url, same_node=False)
    yield u
    cleanup(u)


def test_every_script_touches_one_slot_and_views_spread_over_the_nodes(url):
    rows = [{"customer_id": i, "ts": h(1), "cnt": i} for i in range(1, 201)]
    names = ["spend", "orders", "refunds", "clicks", "logins", "visits"]
    for name in names:
        write(url, make_view(name), rows)
    store = open_store(url)
    try:
        c = store.client
        for name in names:
            keys = list(c.scan_iter(match=store.data_prefix(name, 0) + "*", count=1000))
            assert len(keys) == 200
            assert len({c.keyslot(k) for k in keys}) == 1, name  # the upsert script's keys: one slot
        assert c.keyslot(store._lock_key("spend")) == c.keyslot(store._meta)  # the commit script's keys
        nodes = {c.get_node_from_key(store.data_prefix(name, 0)).name for name in names}
        assert len(nodes) > 1  # one view generation per slot, not every view on one node
    finally:
        store.close()


@pytest.mark.parametrize("same_node", [False, True], ids=["meta on another node", "meta on the data's node"])
def test_reads_check_the_generation_after_their_data_answered(redis_cluster_url, same_node, monkeypatch):
    u = _url_where(redis_cluster_url, same_node)
    try:
        write(u, SPEND, [{"customer_id": i, "ts": h(1), "cnt": i} for i in range(1, 6)])
        reader = client(u, SPEND)
        calls = []
        for name in ("round_trip", "round_trips"):
            real = getattr(redis_wire, name)
            monkeypatch.setattr(redis_wire, name, lambda *a, _n=name, _f=real: calls.append(_n) or _f(*a))
        assert reader.get_online_features(["spend:cnt"], {"customer_id": [3, 1, 9]}).to_dict()["cnt"] == [3, 1, None]
        # on another node: the reads (all nodes at once), then the check; else one round trip
        assert calls == (["round_trip"] if same_node else ["round_trips", "round_trip"])
        # a full refresh switches the generation and deletes the old one: the reader notices and reloads
        write(u, SPEND, [{"customer_id": 1, "ts": h(2), "cnt": 100}], full=True)
        assert reader.get_online_features(["spend:cnt"], {"customer_id": [3, 1]}).to_dict()["cnt"] == [None, 100]
    finally:
        cleanup(u)


def test_a_stale_reader_on_another_node_raises_stale_layout(url):
    write(url, SPEND, [{"customer_id": 1, "ts": h(1), "cnt": 1}])
    store = open_store(url)
    try:
        state = store.view_states()["spend"]
        layout = ViewLayout.from_view(SPEND)
        reader = store.reader(state, [layout.feature_index("cnt")])
        assert tuple(reader.many([(1,)])[0][1]) == (1,)
        write(url, SPEND, [{"customer_id": 1, "ts": h(2), "cnt": 2}], full=True)
        with pytest.raises(StaleLayout):
            reader.many([(1,)])
        with pytest.raises(StaleLayout):
            reader.one((1,))
    finally:
        store.close()


def test_cluster_url_errors_are_clear(redis_cluster_url):
    with pytest.raises(ConfigError, match="a Redis Cluster has only database 0, the URL names '3'"):
        open_store(redis_cluster_url + "/3")
    with pytest.raises(ServiceUnavailable, match=r"redis\+cluster://:\*\*\*@127.0.0.1:1"):
        open_store("redis+cluster://:secret@127.0.0.1:1")


def _move_slot(client, key: str) -> None:
    """Migrate the slot of ``key``, with its keys, to another primary (as a resharding does)."""
    slot = client.keyslot(key)
    src = client.get_node_from_key(key)
    dst = next(n for n in client.get_primaries() if n.name != src.name)
    src_c, dst_c = client.get_redis_connection(src), client.get_redis_connection(dst)
    src_id, dst_id = src_c.execute_command("CLUSTER MYID").decode(), dst_c.execute_command("CLUSTER MYID").decode()
    dst_c.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
    src_c.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
    while keys := src_c.execute_command("CLUSTER GETKEYSINSLOT", slot, 1000):
        src_c.execute_command("MIGRATE", dst.host, dst.port, "", 0, 5000, "KEYS", *keys)
    for node in client.get_primaries():
        client.get_redis_connection(node).execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)


def test_reads_follow_a_slot_that_moved_and_a_sync_fails_cleanly_then_reruns(url):
    write(url, SPEND, [{"customer_id": i, "ts": h(1), "cnt": i} for i in range(1, 6)])
    reader = client(url, SPEND)
    assert reader.get_online_features(["spend:cnt"], {"customer_id": [2, 5]}).to_dict()["cnt"] == [2, 5]
    store = open_store(url)
    try:
        _move_slot(store.client, store.data_prefix("spend", 0))
    finally:
        store.close()
    # the reader's client still maps the slot to the old node: MOVED, learn the new node, read again
    assert reader.get_online_features(["spend:cnt"], {"customer_id": [2, 5]}).to_dict()["cnt"] == [2, 5]
    # a fresh store's client knows the new map: an incremental sync writes to the new node
    write(url, SPEND, [{"customer_id": 2, "ts": h(2), "cnt": 20}])
    assert reader.get_online_features(["spend:cnt"], {"customer_id": [2, 5]}).to_dict()["cnt"] == [20, 5]


def test_a_sync_whose_slot_moves_mid_write_fails_cleanly_and_the_rerun_succeeds(url):
    from test_online_store_contract import batch

    write(url, SPEND, [{"customer_id": 1, "ts": h(1), "cnt": 1}])
    store = open_store(url)
    try:
        layout = ViewLayout.from_view(SPEND)
        store.begin_view(layout, full_refresh=False)
        _move_slot(store.client, store.data_prefix("spend", 0))
        with pytest.raises(ServiceUnavailable, match="moved a slot while this call used it"):
            store.write_batch(layout, batch(SPEND, [{"customer_id": 1, "ts": h(2), "cnt": 2}]))
        store.abort_view(layout)
    finally:
        store.close()
    assert client(url, SPEND).get_online_features(["spend:cnt"], {"customer_id": [1]}).to_dict()["cnt"] == [1]
    write(url, SPEND, [{"customer_id": 1, "ts": h(2), "cnt": 2}])
    assert client(url, SPEND).get_online_features(["spend:cnt"], {"customer_id": [1]}).to_dict()["cnt"] == [2]


def test_a_plain_redis_url_on_a_cluster_node_says_to_use_redis_cluster(redis_cluster_url):
    node = redis_cluster_url.split("//")[1]
    probe = open_store(redis_cluster_url)
    try:  # a prefix whose meta hash is on another node than the one the URL names
        prefix = next(p for p in (f"fwtest_{uuid.uuid4().hex[:10]}" for _ in range(200))
                      if probe.client.get_node_from_key(f"{p}:meta").name != node)
    finally:
        probe.close()
    with pytest.raises(ConfigError, match=r"is a node of a Redis Cluster \(it answered MOVED .*\n.*redis\+cluster://host:port"):
        write(f"redis://{node}/0?prefix={prefix}", SPEND, [{"customer_id": 1, "ts": h(1), "cnt": 1}])
