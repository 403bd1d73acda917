"""The Redis store's wire level: RESP bytes built with Arrow kernels, and packed commands sent on
pooled connections with their replies read back (the store's hot paths bypass redis-py's
per-command objects). Used by :mod:`featurewarehouse.online.redis` only."""
from __future__ import annotations

from typing import Any, Sequence


def round_trip(pool: Any, packed: bytes, replies: int) -> list[Any]:
    """Send packed commands on a pooled connection and read their replies. An error reply is
    raised by ``read_response``; the connection, with replies left unread, is then dropped."""
    conn = pool.get_connection()
    try:
        conn.send_packed_command([packed], check_health=False)
        return [conn.read_response() for _ in range(replies)]
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


def round_trips(parts: Sequence[tuple[Any, bytes, int]]) -> list[list[Any]]:
    """Per (pool, packed commands, reply count): its replies. Parts on one node share a
    connection; every part is sent before any reply is read, so the nodes work in parallel."""
    by_pool: dict[int, list[int]] = {}
    for i, (pool, _, _) in enumerate(parts):
        by_pool.setdefault(id(pool), []).append(i)
    conns = []
    try:
        for indexes in by_pool.values():
            pool = parts[indexes[0]][0]
            conn = pool.get_connection()
            conns.append((pool, conn))
            conn.send_packed_command([b"".join(parts[i][1] for i in indexes)], check_health=False)
        out: list[list[Any]] = [[] for _ in parts]
        for (_, conn), indexes in zip(conns, by_pool.values()):
            for i in indexes:
                out[i] = [conn.read_response() for _ in range(parts[i][2])]
        return out
    except BaseException:
        for _, conn in conns:
            conn.disconnect()  # replies may be left unread on it
        raise
    finally:
        for pool, conn in conns:
            pool.release(conn)


def split(replies: list[Any], counts: Sequence[int]) -> list[list[Any]]:
    out, start = [], 0
    for n in counts:
        out.append(replies[start:start + n])
        start += n
    return out


def drain_integer_replies(conn: Any, n: int) -> None:
    """Consume ``n`` one-line replies (``:<int>`` from HSET) straight off the socket.

    Parsing 10^6 replies one by one in Python costs more than encoding the commands;
    each HSET reply is exactly one CRLF-terminated line, so counting lines is enough,
    and an error reply (a line starting with ``-``) is raised as such.
    """
    import redis

    if n <= 0:
        return
    sock = conn._sock
    received = bytearray()
    lines = 0
    while lines < n:
        data = sock.recv(1 << 20)
        if not data:
            raise redis.ConnectionError("Redis closed the connection during a write")
        lines += data.count(b"\n")
        received += data
    if received.startswith(b"-") or b"\n-" in received:
        start = received.index(b"-") if received.startswith(b"-") else received.index(b"\n-") + 1
        raise redis.ResponseError(received[start:received.index(b"\r\n", start)].decode(errors="replace"))


def bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


def resp_pieces(col: Any) -> Any:
    """Each value as a RESP bulk string, ``$<len>\\r\\n<value>\\r\\n``, in one Arrow kernel pass."""
    import pyarrow as pa
    import pyarrow.compute as pc

    length = pc.cast(pc.binary_length(col), pa.string())
    return pc.binary_join_element_wise("$", length, "\r\n", col, "\r\n", "")


def concat(arr: Any) -> memoryview:
    """The bytes of a string array's values, back to back, without a Python loop."""
    import numpy as np

    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset: arr.offset + len(arr) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    return memoryview(bufs[2])[start:end]
