"""Redis online store: production serving, chosen by ``redis://`` or ``rediss://`` (TLS) URLs,
and on a Redis Cluster by ``redis+cluster://`` or ``rediss+cluster://``.

Layout under a prefix (``fw`` unless the URL says ``?prefix=...``):

- ``<prefix>:meta`` hash: ``epoch`` (bumped by every commit), ``view:<name>``
  (the stored copy of the view's definition, watermark and generation).
- ``<prefix>:v:<view>:g<gen>:<key>`` hash per entity key: ``__v`` (the 38-digit
  version text: event ts then created ts, comparable as text) and one field per
  non-NULL feature (text encodings of :mod:`featurewarehouse.online.keys`), and for a
  rolling view its window state ``__state`` (online/windows.py).

On a Redis Cluster, every script must touch one hash slot, so the keys carry hash
tags: data keys are ``<prefix>:v:{<view>:g<gen>}:<key>`` (one view generation, one
slot: the upsert script of a chunk and a reader's HMGETs each go to one node) and
lock keys are ``<prefix>:lock:{<prefix>:meta}:<view>`` (the meta hash's slot: the
commit script checks the lock and switches the generation on one node). A single
Redis keeps the untagged names, so existing stores need no migration.

Writes run one Lua script per chunk of rows, which keeps a key's value from
moving backwards (``stored __v <= new __v`` or nothing happens) atomically on
the server. The command bytes (RESP) of a whole chunk are built with Arrow
kernels, not argument by argument in Python, and chunks are pipelined.

A full refresh writes generation ``g+1`` beside the live one, then one
MULTI/EXEC switches ``view:<name>`` to it, and only then are the old
generation's keys deleted. Readers send their HMGETs and then an HGET of the
live generation in one round trip: when it still names the generation they
read, their reads saw it intact, so they see all old or all new values.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from featurewarehouse.errors import ConfigError, ServiceUnavailable, redact
from featurewarehouse.online.base import (
    CREATED_COL,
    TS_COL,
    OnlineStore,
    Reader,
    Row,
    Rows,
    StaleLayout,
    ViewLayout,
    ViewState,
    WriteResult,
)
from featurewarehouse.online.keys import VERSION_SHIFT, encode_key, encode_keys_arrow, encode_values_arrow, text_decoder
from featurewarehouse.online.redis_locks import LOCK_SCRIPTS, RedisLocks
from featurewarehouse.online import redis_wire
from featurewarehouse.online.redis_wire import bulk, concat, drain_integer_replies, resp_pieces, split

CHUNK_ROWS = 2_000
PIPELINE_CHUNKS = 8

# KEYS: data keys; ARGV: nf, nf field names, then per key: version, nf values ('' = NULL)
_UPSERT_LUA = """
local nf = tonumber(ARGV[1])
local base = 2 + nf
local written = 0
for i = 1, #KEYS do
  local off = base + (i - 1) * (nf + 1)
  local ver = ARGV[off]
  local cur = redis.call('HGET', KEYS[i], '__v')
  if (not cur) or cur <= ver then
    if cur then redis.call('DEL', KEYS[i]) end
    local args = {'__v', ver}
    local na = 2
    for j = 1, nf do
      local val = ARGV[off + j]
      if val ~= '' then
        args[na + 1] = ARGV[1 + j]
        args[na + 2] = val
        na = na + 2
      end
    end
    redis.call('HSET', KEYS[i], unpack(args))
    written = written + 1
  end
end
return written
"""


# The commit of a view, refused unless this sync still holds the view's lock and the live
# generation is still the one it began on (else it would switch the view to a generation
# another sync deleted, or over one it committed).
# KEYS: meta, the view's lock; ARGV: view, generation live at begin ('' = none), new generation,
# state JSON, lock value ('' = the sync took no lock)
_COMMIT_LUA = """
if ARGV[5] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[5] then return -1 end
local live = redis.call('HGET', KEYS[1], 'gen:' .. ARGV[1])
if (live or '') ~= ARGV[2] then return -2 end
redis.call('HSET', KEYS[1], 'view:' .. ARGV[1], ARGV[4], 'gen:' .. ARGV[1], ARGV[3])
return redis.call('HINCRBY', KEYS[1], 'epoch', 1)
"""


def _connection_error() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.ConnectionError, redis.TimeoutError, OSError)


@dataclass(frozen=True)
class RedisConfig:
    """``redis[s]://[user:password@]host:port/db[?prefix=fw&<redis-py options>]``, or
    ``redis[s]+cluster://[user:password@]host:port[?prefix=fw&...]`` for a Redis Cluster
    (any node; the client discovers the others). ``client_url`` is what redis-py receives
    (TLS and auth options included)."""

    client_url: str
    prefix: str = "fw"
    cluster: bool = False

    @classmethod
    def from_url(cls, url: str) -> "RedisConfig":
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        prefix = query.pop("prefix", "fw")
        if not prefix or ":" in prefix:
            raise ConfigError(f"bad Redis key prefix {prefix!r}", where=redact(url), hint="use letters, digits and _")
        scheme, _, mode = parts.scheme.lower().partition("+")
        cluster = mode == "cluster"
        if cluster and parts.path.strip("/") not in ("", "0"):
            raise ConfigError(
                f"a Redis Cluster has only database 0, the URL names {parts.path.strip('/')!r}", where=redact(url),
                hint="drop the /<db> from the URL; use ?prefix=<name> to keep several stores apart",
            )
        path = "" if cluster else parts.path
        client_url = urlunsplit((scheme, parts.netloc, path, urlencode(query), parts.fragment))
        return cls(client_url, prefix, cluster)


class RedisOnlineStore(RedisLocks, OnlineStore):

    def __init__(self, client: Any, url: str, prefix: str = "fw", cluster: bool = False):
        self.client = client
        self.url = url
        self.prefix = prefix
        self.cluster = cluster
        self._meta = f"{prefix}:meta"
        self._gen: dict[str, int] = {}
        self._fresh: dict[str, bool] = {}
        self._old_gen: dict[str, int | None] = {}
        self._sha: str | None = None
        self._locks: dict[str, str] = {}  # view -> the value of the lock this instance holds
        self._scripts = (
            {} if client is None else
            {name: client.register_script(lua) for name, lua in (*LOCK_SCRIPTS, ("commit", _COMMIT_LUA))}
        )

    @classmethod
    def from_url(cls, url: str) -> "RedisOnlineStore":
        try:
            import redis
        except ImportError as exc:
            raise ConfigError("the redis online store needs redis-py", hint='pip install "featurewarehouse[redis]"') from exc
        config = RedisConfig.from_url(url)
        client_class = redis.RedisCluster if config.cluster else redis.Redis
        # a RedisCluster connects (to learn the slot map) as it is built: its errors are the store's
        shell = cls(None, url, config.prefix, config.cluster)
        try:
            client = shell._call(client_class.from_url, config.client_url, socket_connect_timeout=5, socket_timeout=60)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"malformed Redis URL: {exc}", where=redact(url),
                              hint="use redis://[:password@]host:6379/0, rediss:// for TLS, "
                              "redis+cluster://host:port for a Redis Cluster") from exc
        store = cls(client, url, config.prefix, config.cluster)
        store._call(client.ping)
        return store

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return fn(*args, **kwargs)
        except redis.AuthenticationError as exc:
            raise ServiceUnavailable(
                f"Redis refused the credentials in {redact(self.url)}: {exc}",
                hint="fix the user/password in the URL (passwords belong in FW_ONLINE_STORE, not in files)",
            ) from exc
        except _connection_error() as exc:
            raise ServiceUnavailable(
                f"cannot reach the Redis online store at {redact(self.url)}: {exc}",
                hint="start Redis or fix the URL (--store, FW_ONLINE_STORE or vars.fw.online_store); "
                "the store keeps its last committed state, rerun the sync when Redis is back",
            ) from exc
        except redis.exceptions.MovedError as exc:
            if not self.cluster:
                raise ConfigError(
                    f"the Redis at {redact(self.url)} is a node of a Redis Cluster (it answered MOVED {exc})",
                    hint="name the cluster with a redis+cluster://host:port URL (rediss+cluster:// for TLS)",
                ) from exc
            # only the raw pipelines (which bypass RedisCluster's redirect handling) see this:
            # learn the slot's new node, so the next call goes there
            self.client.nodes_manager.move_slot(exc)
            raise ServiceUnavailable(
                f"the Redis Cluster at {redact(self.url)} moved a slot while this call used it ({exc})",
                hint="a resharding moved the view's keys; the store keeps its last committed state: rerun the sync",
            ) from exc
        except redis.exceptions.RedisClusterException as exc:
            # what RedisCluster raises when no node answers (and for commands it refuses to route)
            raise ServiceUnavailable(
                f"the Redis Cluster online store at {redact(self.url)} failed: {exc}",
                hint="check that the cluster's nodes are up and reachable from here (redis-cli -c -p <port> cluster info)",
            ) from exc
        except redis.ResponseError as exc:
            raise ServiceUnavailable(f"the Redis online store at {redact(self.url)} answered with an error: {exc}") from exc

    def data_prefix(self, view: str, gen: int) -> str:
        if self.cluster:
            return f"{self.prefix}:v:{{{view}:g{gen}}}:"
        return f"{self.prefix}:v:{view}:g{gen}:"

    def _generations_pattern(self, view: str) -> str:
        """A SCAN pattern matching the data keys of every generation of ``view``."""
        return f"{self.prefix}:v:{{{view}:g*" if self.cluster else f"{self.prefix}:v:{view}:g*"

    def _pool(self, key: str) -> Any:
        """The connection pool of the node serving ``key`` (on a cluster: its slot's primary).
        Raw pipelines go there; a slot that moves mid-write answers MOVED, which fails the sync."""
        if not self.cluster:
            return self.client.connection_pool
        return self.client.get_redis_connection(self.client.get_node_from_key(key)).connection_pool

    # ---- writes -----------------------------------------------------------
    def _delete_matching(self, pattern: str, keep_prefix: str | None = None) -> int:
        n = 0
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=pattern, count=10_000):
            if keep_prefix is not None and key.startswith(keep_prefix.encode()):
                continue
            batch.append(key)
            if len(batch) >= 10_000:
                n += self.client.unlink(*batch)
                batch = []
        if batch:
            n += self.client.unlink(*batch)
        return n

    def begin_view(self, layout: ViewLayout, *, full_refresh: bool) -> None:
        # the lock makes this sync the view's only writer: the generations other than the
        # live one below are a crashed sync's leftovers, never another sync's work in progress
        self._check_lock(layout.name)
        states = self._call(self.view_states)
        prior = states.get(layout.name)
        current = prior.generation if prior else None
        self._old_gen[layout.name] = current
        if full_refresh or prior is None:
            target = 0 if current is None else current + 1
            # leftovers of a crashed sync (any generation but the live one) go first
            keep = self.data_prefix(layout.name, current) if current is not None else None
            self._call(self._delete_matching, self._generations_pattern(layout.name), keep)
        else:
            target = current
        self._gen[layout.name] = target
        # a fresh generation holds nothing to guard against, and the sync's query emits one
        # row per key: its rows go in as plain HSETs; writes into a live generation use the Lua guard
        self._fresh[layout.name] = full_refresh or prior is None
        if self._sha is None:
            self._sha = self._call(self.client.script_load, _UPSERT_LUA)

    def write_batch(self, layout: ViewLayout, batch: Any) -> WriteResult:
        return self.write_encoded(layout, self.encode_batch(layout, batch))

    def write_encoded(self, layout: ViewLayout, encoded: Any) -> WriteResult:
        if encoded is None:
            return WriteResult(0, 0)
        # every key of a generation is in one slot: the whole batch goes to one node
        pool = self._pool(self.data_prefix(layout.name, self._gen[layout.name]))
        if encoded[0] == "fresh":
            return self._call(self._send_fresh, pool, encoded[1], encoded[2])
        return self._call(self._send_guarded, pool, layout, *encoded[1:])

    def encode_batch(self, layout: ViewLayout, batch: Any) -> Any:
        """The RESP bytes of a batch, built with Arrow kernels (no network; may run in another thread)."""
        if batch.num_rows == 0:
            return None
        import pyarrow as pa
        import pyarrow.compute as pc

        prefix = self.data_prefix(layout.name, self._gen[layout.name])
        keys = encode_keys_arrow([batch.column(k) for k in layout.key_names], layout.key_kinds)
        keys = pc.binary_join_element_wise(prefix, keys, "")
        # fixed-width digits, so comparing the text in Lua compares the numbers
        ts = pc.utf8_lpad(pc.cast(pc.add(batch.column(TS_COL), VERSION_SHIFT), pa.string()), 19, "0")
        cts = pc.utf8_lpad(pc.cast(pc.add(batch.column(CREATED_COL), VERSION_SHIFT), pa.string()), 19, "0")
        argv_cols = [pc.binary_join_element_wise(ts, cts, "")]
        for f, kind in zip(layout.stored_names, layout.stored_kinds):
            argv_cols.append(pc.fill_null(encode_values_arrow(batch.column(f), kind), ""))
        key_resp = resp_pieces(keys)
        # a key twice in one batch (not from the sync's query, which emits one row per key)
        # goes through the guard even in a fresh generation
        if self._fresh.get(layout.name) and pc.count_distinct(keys).as_py() == batch.num_rows:
            return ("fresh", batch.num_rows, self._fresh_commands(layout, batch.num_rows, key_resp, argv_cols))
        row_resp = pc.binary_join_element_wise(*(resp_pieces(c) for c in argv_cols), "")
        return ("guard", batch.num_rows, key_resp, row_resp)

    def _send_guarded(self, pool: Any, layout: ViewLayout, n: int, key_resp: Any, row_resp: Any) -> WriteResult:
        nf = len(layout.stored_names)
        head_fields = [str(nf).encode(), *(f.encode() for f in layout.stored_names)]
        sha = self._sha.encode() if isinstance(self._sha, str) else self._sha
        conn = pool.get_connection()
        written = 0
        try:
            pending = 0
            for start in range(0, n, CHUNK_ROWS):
                m = min(CHUNK_ROWS, n - start)
                nargs = 3 + m + len(head_fields) + m * (nf + 1)
                head = [f"*{nargs}\r\n".encode(), bulk(b"EVALSHA"), bulk(sha), bulk(str(m).encode())]
                conn.send_packed_command(
                    [
                        b"".join(head),
                        concat(key_resp.slice(start, m)),
                        b"".join(bulk(h) for h in head_fields),
                        concat(row_resp.slice(start, m)),
                    ],
                    check_health=False,
                )
                pending += 1
                if pending >= PIPELINE_CHUNKS:
                    for _ in range(pending):
                        written += int(conn.read_response())
                    pending = 0
            for _ in range(pending):
                written += int(conn.read_response())
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)
        return WriteResult(written, n - written)

    @staticmethod
    def _fresh_commands(layout: ViewLayout, n: int, key_resp: Any, argv_cols: list[Any]) -> Any:
        """HSET key __v <version> f1 v1 ... per row, NULL fields left out: one RESP string per row."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pieces = [pc.binary_join_element_wise(bulk(b"__v").decode(), resp_pieces(argv_cols[0]), "")]
        present = None
        for name, col in zip(layout.stored_names, argv_cols[1:]):
            valid = pc.not_equal(col, "")
            piece = pc.binary_join_element_wise(bulk(name.encode()).decode(), resp_pieces(col), "")
            pieces.append(pc.if_else(valid, piece, ""))
            as_int = pc.cast(valid, pa.int64())
            present = as_int if present is None else pc.add(present, as_int)
        nargs = pc.add(pc.multiply(present, 2), 4) if present is not None else pa.array([4] * n, pa.int64())
        head = pc.binary_join_element_wise("*", pc.cast(nargs, pa.string()), "\r\n" + bulk(b"HSET").decode(), "")
        return pc.binary_join_element_wise(head, key_resp, *pieces, "")

    def _send_fresh(self, pool: Any, n: int, commands: Any) -> WriteResult:
        conn = pool.get_connection()
        try:
            pending = 0
            step = CHUNK_ROWS * 4
            for start in range(0, n, step):
                m = min(step, n - start)
                conn.send_packed_command([concat(commands.slice(start, m))], check_health=False)
                pending += m
                if pending >= step * PIPELINE_CHUNKS:
                    drain_integer_replies(conn, pending)
                    pending = 0
            drain_integer_replies(conn, pending)
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)
        return WriteResult(n, 0)

    def commit_view(self, state: ViewState) -> None:
        name = state.layout.name
        self._fresh.pop(name, None)
        gen = self._gen.pop(name)
        state = dataclasses.replace(state, generation=gen)
        old = self._old_gen.pop(name, None)
        began_on = "" if old is None else str(old)
        done = self._call(
            self._scripts["commit"], [self._meta, self._lock_key(name)],
            [name, began_on, gen, state.to_json(), self._locks.get(name, "")],
        )
        if done == -1:
            self._check_lock(name)  # raises LockLost with its message
        if done == -2:
            from featurewarehouse.online.locks import LockLost

            live = self._call(self.client.hget, self._meta, f"gen:{name}")
            raise LockLost(
                f"refused to commit feature view {name!r}: its live generation in {redact(self.url)} changed from "
                f"{began_on or 'none'} to {live.decode() if live else 'none'} while this sync ran (another sync "
                "committed it); switching would show readers a deleted or stale generation",
                hint="run one sync per view at a time (the sync lock does this; do not bypass it), then rerun `fwctl sync-online`",
            )
        if old is not None and old != gen:
            # after the switch nobody reads the old generation; a crash here leaves
            # keys the next full refresh of this view removes
            self._call(self._delete_matching, self.data_prefix(name, old) + "*")

    def abort_view(self, layout: ViewLayout) -> None:
        self._fresh.pop(layout.name, None)
        self._gen.pop(layout.name, None)
        self._old_gen.pop(layout.name, None)

    def drop_all(self) -> None:
        self._call(self._delete_matching, f"{self.prefix}:*")

    # ---- reads ------------------------------------------------------------
    def reader(self, state: ViewState, feature_idx: Sequence[int]) -> Reader:
        """HMGETs of the keys, then an HGET of the view's live generation, in one round trip.

        The check comes after the reads: a full refresh switches the generation before it
        deletes the old one's keys, so when the HGET still answers the reader's generation,
        every HMGET before it read that generation intact. The commands are packed here
        (their field list is fixed per request shape) and sent on a pooled connection.
        On a cluster whose meta hash is on another node than the generation's slot, the
        check is sent once the reads have answered: two round trips (see ``_fetch``).
        """
        layout = state.layout
        prefix = self.data_prefix(layout.name, state.generation).encode()
        fields = [b"__v", *(layout.stored_names[i].encode() for i in feature_idx)]
        hmget_head = b"*%d\r\n" % (2 + len(fields)) + bulk(b"HMGET")
        fields_tail = b"".join(bulk(f) for f in fields)
        gen_check = b"*3\r\n" + bulk(b"HGET") + bulk(self._meta.encode()) + bulk(f"gen:{layout.name}".encode())
        generation = str(state.generation).encode()
        kinds = layout.key_kinds
        feature_kinds = [layout.stored_kinds[i] for i in feature_idx]
        decoders = [_NUMBER.get(kind) or text_decoder(kind) for kind in feature_kinds]

        def data_key(key: tuple[Any, ...]) -> bytes:
            if kinds == ("int",):  # the common single integer key: encode_key's text, without the per-part dispatch
                return b"%si%d" % (prefix, key[0])
            return prefix + encode_key(key, kinds).encode()

        def pack(keys: Sequence[tuple[Any, ...]]) -> tuple[bytes, int]:
            data_keys = [data_key(key) for key in keys]
            return b"".join([hmget_head + bulk(k) + fields_tail for k in data_keys]), len(data_keys)

        def checked(replies: list[Any]) -> list[Any]:
            if replies.pop() != generation:
                raise StaleLayout(layout.name)
            return replies

        def one(key: tuple[Any, ...]) -> Row:
            r = checked(self._fetch([(reader, *pack([key]))])[0])[0]
            if r[0] is None:
                return None
            return int(r[0][:19]) - VERSION_SHIFT, [None if v is None else d(v) for d, v in zip(decoders, r[1:])]

        def unpack(replies: list[Any]) -> Rows:
            entries = checked(replies)
            found = [r for r in entries if r[0] is not None]
            if not found:
                return [None] * len(entries)
            # decoded a feature column at a time (one map() per column instead of a call per value)
            cols = list(zip(*found))
            stamps = [int(v[:19]) - VERSION_SHIFT for v in cols[0]]
            decoded = [_decode_text_column(kind, col) for kind, col in zip(feature_kinds, cols[1:])]
            values = zip(*decoded) if decoded else iter(lambda: (), None)
            if len(found) == len(entries):
                return list(zip(stamps, values))
            it = zip(stamps, values)
            return [None if r[0] is None else next(it) for r in entries]

        def many(keys: Sequence[tuple[Any, ...]]) -> Rows:
            return unpack(self._fetch([(reader, *pack(keys))])[0])

        reader = RedisReader(many, one, pack, unpack, prefix.decode(), gen_check)
        return reader

    def read_views(self, requests: Sequence[tuple[Reader, Sequence[tuple[Any, ...]]]]) -> list[Rows]:
        """Several views' reads packed into one round trip per node (their readers came from this store)."""
        packs = [(reader, *reader.pack(keys)) for reader, keys in requests]  # type: ignore[attr-defined]
        return [reader.unpack(replies) for (reader, _), replies in zip(requests, self._fetch(packs))]  # type: ignore[attr-defined]

    def _fetch(self, packs: Sequence[tuple["RedisReader", bytes, int]]) -> list[list[Any]]:
        """Per (reader, packed HMGETs, their count): the HMGET replies and then its generation check's.

        A single Redis (or a cluster whose meta hash shares the node of every read slot) gets the
        reads and checks in one round trip. Elsewhere on a cluster, the reads go to their slots'
        nodes first (all sent, then all read), and the checks to the meta node only once every
        read has answered: the check must run after the reads, and two nodes keep no order.
        """
        if not self.cluster:
            replies = self._call(
                redis_wire.round_trip, self.client.connection_pool,
                b"".join(data + r.check for r, data, _ in packs), sum(n + 1 for _, _, n in packs),
            )
            return split(replies, [n + 1 for _, _, n in packs])
        try:
            return self._fetch_cluster(packs)
        except ServiceUnavailable as exc:
            import redis

            if not isinstance(exc.__cause__, redis.exceptions.MovedError):
                raise
            return self._fetch_cluster(packs)  # reads are safe to repeat, on the slot's new node

    def _fetch_cluster(self, packs: Sequence[tuple["RedisReader", bytes, int]]) -> list[list[Any]]:
        meta_pool = self._pool(self._meta)
        pools = [self._pool(r.slot_key) for r, _, _ in packs]
        if all(p is meta_pool for p in pools):
            replies = self._call(
                redis_wire.round_trip, meta_pool,
                b"".join(data + r.check for r, data, _ in packs), sum(n + 1 for _, _, n in packs),
            )
            return split(replies, [n + 1 for _, _, n in packs])
        data_replies = self._call(redis_wire.round_trips, [(pool, data, n) for pool, (_, data, n) in zip(pools, packs)])
        checks = self._call(redis_wire.round_trip, meta_pool, b"".join(r.check for r, _, _ in packs), len(packs))
        return [replies + [check] for replies, check in zip(data_replies, checks)]

    def view_states(self) -> dict[str, ViewState]:
        raw = self._call(self.client.hgetall, self._meta)
        states = {}
        for k, v in raw.items():
            k = k.decode()
            if k.startswith("view:"):
                states[k[len("view:"):]] = ViewState.from_json(v)
        return states

    def epoch(self) -> int:
        return int(self._call(self.client.hget, self._meta, "epoch") or 0)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass


_NUMBER = {"int": int, "float": float}


def _decode_text_column(kind: str, col: Sequence[Any]) -> list[Any]:
    """One feature's stored text for many keys back to Python (``text_decoder``, column-wise)."""
    number = _NUMBER.get(kind)
    if number is not None:
        try:
            return list(map(number, col))  # int()/float() take the bytes as they are
        except TypeError:  # a NULL (absent field) among them
            return [None if v is None else number(v) for v in col]
    if kind == "str" and None not in col:
        return [v[1:].decode() for v in col]
    decode = text_decoder(kind)
    return [decode(v) for v in col]


@dataclass(frozen=True)
class RedisReader(Reader):
    """A Reader whose commands can also be packed with other views' into one round trip."""

    pack: Callable[[Sequence[tuple[Any, ...]]], tuple[bytes, int]]  # keys -> (HMGETs, their count)
    unpack: Callable[[list[Any]], Rows]  # their replies, then the generation check's -> rows
    slot_key: str  # a key in the slot of every key this reader reads (its generation's data prefix)
    check: bytes  # the HGET of the view's live generation, sent after the reads
