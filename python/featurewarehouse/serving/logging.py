"""The served-vector log sink: Parquet files the ``feature_log`` dbt model reads.

A request hands the sink one object (the response it already built) and goes on:
``log()`` is a sampling decision plus a lock-free ``deque.append``. A background
thread explodes responses into the long log format (contract 4: one row per
served entity row x feature), writes row groups to an in-progress file, and
rotates it (by size or age) into ``<path>/fw-log-<time>-<pid>-<seq>.parquet``.
In-progress files end in ``.parquet.inprogress`` so readers never see a file
without its footer. ``close()`` (called on server shutdown and at interpreter
exit) drains the queue and publishes the last file: every entry ``log()``
accepted is on disk after it.

When the queue is full the entry is dropped and counted rather than blocking
the request; ``stats()`` reports drops.

The server logs the response bytes it already encoded (``log(..., payload=...)``):
one immutable object per request, which the garbage collector does not track.
With ``converter="process"`` (what ``fwctl serve`` uses) the background thread
only forwards raw entries over a pipe to a child process, which decodes them,
converts to Arrow and writes Parquet with its own interpreter: the server's GIL
spends about a microsecond per logged request instead of the conversion. The
child publishes everything it received when the server closes the sink, and
also when the server dies without closing it (it sees the pipe close).
"""
from __future__ import annotations

import atexit
import collections
import datetime as _dt
import itertools
import os
import random
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from featurewarehouse.errors import ConfigError
from featurewarehouse.serving.log_format import (
    as_result,
    log_schema,
    responses_table,
    split_ref,
)
from featurewarehouse.serving.log_payload import NotPayloadLayout, header_names, payload_header, payloads_table

CONVERTERS = ("thread", "process")
_WRITER_MEMORY_ENV = {
    "MIMALLOC_PURGE_DELAY": "-1",
    "MALLOC_TRIM_THRESHOLD_": str(256 << 20),
    "MALLOC_TOP_PAD_": str(64 << 20),
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
}
# responses per message to the writer process (~600 kB for 1 entity x 15 features). Each message
# costs the server a wake-up of its forwarder thread and GIL hand-offs with the request path:
# measured in-process, 1 entity x 15 features, server CPU per request +13-17 us at 64,
# +10 us at 256, +5-7 us at 512, +4-5.5 us at 1,024 (no page faults at any of these)
FORWARD_EVERY = 512


def request_ids() -> Callable[[], str]:
    """Request ids unique across processes and restarts: a random prefix drawn once, then a counter.

    (uuid4 per request reads the OS random source each time, which costs more than the online read.)
    """
    prefix = uuid.uuid4().hex[:16]
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


@dataclass(frozen=True)
class SinkStats:
    accepted: int
    sampled_out: int
    dropped: int
    rows_written: int
    files_written: int
    errors: int
    last_error: str | None


class FeatureLogSink:
    """Batched, off-request-path Parquet writer for served feature vectors.

    >>> import tempfile
    >>> sink = FeatureLogSink(tempfile.mkdtemp(), sample_rate=1.0)
    >>> sink.close()
    """

    def __init__(
        self,
        path: str | Path,
        *,
        sample_rate: float = 1.0,
        max_file_bytes: int = 64 * 1024 * 1024,
        max_file_seconds: float = 300.0,
        flush_seconds: float = 1.0,
        batch_rows: int = 50_000,
        queue_size: int = 10_000,
        prefix: str = "fw-log",
        seed: int | None = None,
        converter: str = "thread",
    ):
        if not 0.0 <= sample_rate <= 1.0:
            raise ConfigError(
                f"log sample rate {sample_rate} is not between 0 and 1",
                hint="pass --log-sample-rate 1.0 to log every request, 0.1 for one in ten",
            )
        if converter not in CONVERTERS:
            raise ConfigError(f"unknown feature-log converter {converter!r}", hint=f"one of {', '.join(CONVERTERS)}")
        self.converter = converter
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the feature log directory {self.path}: {exc}") from exc
        self.sample_rate = float(sample_rate)
        self.max_file_bytes = int(max_file_bytes)
        self.max_file_seconds = float(max_file_seconds)
        self.flush_seconds = float(flush_seconds)
        self.batch_rows = int(batch_rows)
        self.prefix = prefix
        self._rng = random.Random(seed)
        # Responses wait in a deque (append/popleft are atomic): log() never takes a lock or
        # wakes the writer, which polls every flush_seconds (or sooner when a batch is full).
        self.queue_size = int(queue_size)
        self._items: collections.deque = collections.deque()
        self._wake = threading.Event()
        self._control: collections.deque = collections.deque()
        # wake the writer early when a batch's worth of responses waits (assuming ~16 cells each)
        self._wake_at = max(1, min(self.queue_size // 2, batch_rows // 16 or 1, 4096))
        self._accepted = self._sampled_out = self._dropped = 0
        self._rows_written = self._files_written = self._errors = 0
        self._last_error: str | None = None
        self._seq = 0
        self._writer = None
        self._file: Path | None = None
        self._file_opened = 0.0
        self._pending: list[tuple] = []
        self._pending_rows = 0
        self._refs: dict[tuple, list[tuple[str, str]]] = {}
        self._feature_lists: dict[tuple, tuple] = {}
        self._last_features: tuple = (None, None)
        self._next_id = request_ids()
        self._closed = False
        self._close_lock = threading.Lock()
        # Import the writer's libraries now: at interpreter exit (when close() may
        # run from atexit) a first import of pyarrow fails.
        import concurrent.futures.thread  # noqa: F401  (pyarrow's writer needs it)

        import pyarrow
        import pyarrow.parquet  # noqa: F401

        # pyarrow imports pandas on its first conversion (~0.3 s under the GIL): do it now, not mid-traffic
        pyarrow.array([0])
        self._child = self._conn = None
        self._child_stats: dict[str, Any] = {}
        self._child_lost = False
        run = self._run
        if converter == "process":
            self._start_child(dict(
                max_file_bytes=max_file_bytes, max_file_seconds=max_file_seconds, flush_seconds=flush_seconds,
                batch_rows=batch_rows, prefix=prefix,
            ))
            run = self._run_forwarder
            # forward in batches of FORWARD_EVERY: responses held until a large batch is forwarded are
            # freed together, and the allocator returns that memory to the OS, only to fault it back
            # in for the next responses (measured: ~1 page fault per request with batches of 3,000)
            self._wake_at = min(self._wake_at, FORWARD_EVERY)
        self._thread = threading.Thread(target=run, name="fw-feature-log", daemon=True)
        self._thread.start()
        ref = weakref.ref(self)
        atexit.register(lambda: (s := ref()) is not None and s.close())

    # ---- request path --------------------------------------------------
    def log(
        self,
        result: Any,
        features: Sequence[Any],
        *,
        request_id: str | None = None,
        served_at: _dt.datetime | None = None,
        payload: bytes | None = None,
        feature_service: str | None = None,
        sample_rate: float | None = None,
    ) -> bool:
        """Queue one response for logging; True when accepted (and so durable after close()).

        ``payload``: the response as the server sent it (Feast JSON, :func:`wire.feast_json`);
        when given, it is logged instead of ``result`` (decoded later, off the request path).

        ``result`` is an :class:`OnlineFeatures` (column-major, join keys first);
        ``features`` are the resolved refs of its feature columns, in order
        (``"view:feature"`` strings or objects with ``.view`` and ``.name``).
        ``served_at`` defaults to now (UTC); pass it to replay historical traffic.
        ``feature_service``: the service the request named, recorded in every row it logs;
        ``sample_rate``: that service's own rate, instead of the sink's.
        """
        if self._closed:
            return False
        rate = self.sample_rate if sample_rate is None else sample_rate
        if rate < 1.0 and self._rng.random() >= rate:
            self._sampled_out += 1
            return False
        if served_at is None:
            served_at = time.time_ns() // 1000  # UTC epoch micros: cheaper than a datetime here
        items = self._items
        if len(items) >= self.queue_size:
            self._dropped += 1
            return False
        last = self._last_features  # (what the caller passed last time, its interned tuple): one read, thread-safe
        if last[0] is features:
            features = last[1]
        else:
            # one tuple object per distinct feature list: pickled once per batch, hashed once by the writer
            given, features = features, tuple(features)
            features = self._feature_lists.get(features) or self._intern(features)
            if type(given) is tuple:  # immutable: safe to recognise by identity next time
                self._last_features = (given, features)
        items.append((request_id or self._next_id(), served_at, result if payload is None else payload, features,
                      feature_service))
        self._accepted += 1
        if len(items) == self._wake_at:
            self._wake.set()
        return True

    def _intern(self, features: tuple) -> tuple:
        if len(self._feature_lists) < 1024:
            self._feature_lists[features] = features
        return features

    # ---- control -------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> None:
        """Write everything accepted so far and publish the current file."""
        if self._closed or not self._thread.is_alive():
            return
        done = threading.Event()
        self._control.append(("flush", done))
        self._wake.set()
        done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything accepted, publish the last file, stop the thread. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._control.append(("stop", None))
        self._wake.set()
        self._thread.join(timeout)

    def stats(self) -> SinkStats:
        child = self._child_stats
        return SinkStats(
            accepted=self._accepted,
            sampled_out=self._sampled_out,
            dropped=self._dropped,
            rows_written=self._rows_written + child.get("rows_written", 0),
            files_written=self._files_written + child.get("files_written", 0),
            errors=self._errors + child.get("errors", 0),
            last_error=child.get("last_error") or self._last_error,
        )

    def __enter__(self) -> "FeatureLogSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- background thread ----------------------------------------------
    def _run(self) -> None:
        deadline = time.monotonic() + self.flush_seconds
        while True:
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            self._drain()
            if self._pending_rows >= self.batch_rows:
                self._guard(self._write_buffer)
            while self._control:
                what, done = self._control.popleft()
                self._drain()
                self._guard(self._write_buffer)
                self._guard(self._publish)
                if done is not None:
                    done.set()
                if what == "stop":
                    return
            if time.monotonic() >= deadline:
                self._guard(self._write_buffer)
                if self._writer is not None and time.monotonic() - self._file_opened >= self.max_file_seconds:
                    self._guard(self._publish)
                deadline = time.monotonic() + self.flush_seconds

    # ---- converter="process": forward raw entries to the writer process ----
    def _start_child(self, options: dict) -> None:
        # A plain interpreter (not multiprocessing's spawn, which re-imports the caller's __main__),
        # talking multiprocessing's Connection protocol over a socket pair.
        import json
        import socket
        import subprocess
        import sys
        from multiprocessing.connection import Connection

        import featurewarehouse

        mine, theirs = socket.socketpair()
        env = dict(os.environ)
        package_root = str(Path(featurewarehouse.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        # The writer converts a batch about every second. By default Arrow's allocator (mimalloc) and
        # glibc return freed memory to the OS within milliseconds, so every batch faulted its memory
        # back in (and zeroed it: huge pages). Keep it (bounded by batch_rows); explicit settings win.
        for name, value in _WRITER_MEMORY_ENV.items():
            env.setdefault(name, value)
        code = "import sys; from featurewarehouse.serving.logging import _child_entry; _child_entry()"
        self._child = subprocess.Popen(
            [sys.executable, "-c", code, str(theirs.fileno()), str(self.path), json.dumps(options)],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self._conn = Connection(mine.detach())

    def _run_forwarder(self) -> None:
        """The writer thread in process mode: no conversion here, only a pickle of references per batch."""
        deadline = time.monotonic() + self.flush_seconds
        while True:
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            self._guard(self._forward)
            if self._child_lost:
                return self._run()  # convert and write here from now on
            if time.monotonic() >= deadline:
                self._guard(lambda: self._ask("tick"))
                deadline = time.monotonic() + self.flush_seconds
            while self._control:
                what, done = self._control.popleft()
                self._guard(self._forward)
                if not self._child_lost:
                    self._guard(lambda: self._ask(what))
                if self._child_lost:
                    self._control.appendleft((what, done))
                    return self._run()
                if done is not None:
                    done.set()
                if what == "stop":
                    self._guard(self._stop_child)
                    return

    def _forward(self) -> None:
        items = self._items
        batch = []
        while True:
            try:
                rid, served_at, data, features, service = items.popleft()
            except IndexError:
                break
            if type(data) is not bytes:
                # a result object (the Python client's hook): send its columns, not the object
                try:
                    data = (list(data.feature_names), data.values, data.statuses, data.event_timestamps)
                except Exception as exc:  # noqa: BLE001 - not a result: count it, keep the others
                    self._errors += 1
                    self._last_error = f"{type(exc).__name__}: {exc}"
                    continue
            batch.append((rid, served_at, data, features, service))
        if batch:
            try:
                self._conn.send(("items", batch))  # blocks (without the GIL) only when the child falls behind
            except OSError as exc:
                self._lose_child(exc)
                for item in batch:  # this batch never reached it: keep it
                    self._pending.append(item)
                    self._pending_rows += _cells(item)

    def _lose_child(self, exc: BaseException) -> None:
        """The writer process is gone: count it, convert in this process from now on.
        (What it had received but not written is lost; what it wrote stays published.)"""
        self._child_lost = True
        self._wake.set()  # the in-process loop that takes over starts with what waits, not with a sleep
        self._errors += 1
        self._last_error = f"the feature-log writer process ended ({type(exc).__name__}: {exc}); writing in process"

    def _ask(self, what: str) -> None:
        """Send a control message; for flush/stop wait for the child's answer (its counters)."""
        try:
            self._conn.send((what, None))
            if what == "tick":
                while self._conn.poll():
                    self._child_stats = self._conn.recv()[1]
                return
            while True:
                tag, stats = self._conn.recv()
                self._child_stats = stats
                if tag == what:
                    return
        except (OSError, EOFError) as exc:
            self._lose_child(exc)

    def _stop_child(self) -> None:
        self._conn.close()
        self._child.wait(30)

    def _drain(self) -> None:
        items = self._items
        while True:
            try:
                item = items.popleft()
            except IndexError:
                return
            self._pending.append(item)
            self._pending_rows += _cells(item)

    def _guard(self, fn) -> None:
        # The writer must outlive a bad entry or a full disk: count and go on.
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            self._errors += 1
            self._last_error = f"{type(exc).__name__}: {exc}"

    def _write_buffer(self) -> None:
        """Turn the pending responses into one Arrow table and write it as a row group.

        Responses with the same feature list and columns are converted together: the
        server's payloads by Arrow string kernels (log_payload), results column by column
        (log_format.responses_table). This runs on the writer thread, but holds the GIL.
        """
        if not self._pending:
            return
        import pyarrow as pa

        items, self._pending, self._pending_rows = self._pending, [], 0
        # group by (feature list, columns, raw): raw payloads by their header bytes, converted by
        # log_payload in bulk; results (and payloads without feast_json's layout) by their names
        groups: dict[tuple, list[tuple]] = {}
        for item in items:
            data = item[2]
            try:
                if type(data) is bytes:
                    header = payload_header(data)
                    if header is not None:
                        groups.setdefault((item[3], header, True), []).append(item)
                        continue
                if type(data) is bytes or type(data) is tuple:  # an odd payload / a forwarded result
                    item = (item[0], item[1], as_result(data), *item[3:])
                key = (item[3], tuple(item[2].feature_names), False)
            except Exception as exc:  # noqa: BLE001 - not a result: count it, keep the others
                self._errors += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                continue
            groups.setdefault(key, []).append(item)
        tables = []
        for (features, columns, raw), group in groups.items():
            try:
                tables.append(self._table(features, columns, raw, group))
            except Exception as exc:  # noqa: BLE001 - one malformed response must not lose the others
                if len(group) == 1:
                    raise
                for item in group:
                    try:
                        tables.append(self._table(features, columns, raw, [item]))
                    except Exception as one:  # noqa: BLE001
                        self._errors += 1
                        self._last_error = f"{type(one).__name__}: {one} (first: {exc})"
        tables = [tb for tb in tables if tb.num_rows]
        if not tables:
            return
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        # row groups of at most batch_rows rows; the size limit is checked after each one
        for offset in range(0, table.num_rows, self.batch_rows):
            part = table.slice(offset, self.batch_rows)
            if self._writer is None:
                self._open()
            self._writer.write_table(part)
            self._rows_written += part.num_rows
            if self._file is not None and self._file.stat().st_size >= self.max_file_bytes:
                self._publish()

    def _table(self, features: tuple, columns: Any, raw: bool, group: list[tuple]) -> "pa.Table":  # noqa: F821
        """Log rows of one group: ``columns`` is a payload header (``raw``) or the results' column names."""
        refs = self._resolve(features)
        if raw:
            try:
                return payloads_table(refs, columns, group)
            except NotPayloadLayout:  # not cut as expected: decode each payload in Python instead
                group = [(item[0], item[1], as_result(item[2]), *item[3:]) for item in group]
                columns = header_names(columns)
        return responses_table(refs, columns, group)

    def _resolve(self, features: tuple) -> list[tuple[str, str]]:
        refs = self._refs.get(features)
        if refs is None:
            refs = [split_ref(f) for f in features]
            if len(self._refs) < 1024:
                self._refs[features] = refs
        return refs

    def _open(self) -> None:
        import pyarrow.parquet as pq

        self._seq += 1
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        self._file = self.path / f"{self.prefix}-{stamp}-{os.getpid()}-{self._seq:05d}.parquet.inprogress"
        self._writer = pq.ParquetWriter(
            str(self._file), log_schema(),
            # measured on served vectors: zstd level 1 halves the size of snappy at the same speed;
            # dictionaries only where values repeat; min/max only where readers filter
            compression="zstd", compression_level=1,
            use_dictionary=["feature_view", "feature_name", "status"],
            write_statistics=["served_at"],
        )
        self._file_opened = time.monotonic()

    def _publish(self) -> None:
        if self._writer is None:
            return
        writer, path = self._writer, self._file
        self._writer, self._file = None, None
        writer.close()
        final = path.with_name(path.name.removesuffix(".inprogress"))
        os.replace(path, final)  # atomic: readers see a whole file or none
        self._files_written += 1


def _cells(item: tuple) -> int:
    """Log rows one pending response will produce (entity rows x features)."""
    if type(item[2]) is bytes:  # an undecoded server payload: ~64 bytes of JSON per logged cell
        return max(1, len(item[2]) // 64)
    if type(item[2]) is tuple:
        values = item[2][1]
        return (len(values[0]) if values else 0) * len(item[3])
    try:
        values = item[2].values
        return (len(values[0]) if values else 0) * len(item[3])
    except Exception:  # noqa: BLE001 - a malformed entry is reported when it is written
        return 1


def _child_entry() -> None:
    import json
    import sys
    from multiprocessing.connection import Connection

    _child_main(Connection(int(sys.argv[1])), sys.argv[2], json.loads(sys.argv[3]))


def _child_main(conn: Any, path: str, options: dict) -> None:
    """The writer process: an in-process (thread-mode) sink fed from the pipe; answers flush/stop/tick."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which then closes us in order
    # Decoded responses wait here up to flush_seconds and hold no reference cycles: with the cyclic
    # collector on, every young collection would walk them (measured: 2-3x the conversion's CPU).
    import gc

    gc.disable()
    sink = FeatureLogSink(path, queue_size=1 << 62, **options)

    def stats() -> dict:
        st = sink.stats()
        return {"rows_written": st.rows_written, "files_written": st.files_written,
                "errors": st.errors, "last_error": st.last_error}

    try:
        while True:
            try:
                what, batch = conn.recv()
            except (EOFError, OSError):  # the server is gone without a stop: publish what arrived
                break
            if what == "items":
                sink._items.extend(batch)
                if len(sink._items) >= sink._wake_at:
                    sink._wake.set()
                sink._accepted += len(batch)
            elif what == "tick":
                conn.send(("tick", stats()))
            elif what == "flush":
                sink.flush()
                conn.send(("flush", stats()))
            elif what == "stop":
                sink.close()
                conn.send(("stop", stats()))
                return
    finally:
        sink.close()


def read_log(path: str | Path) -> "pa.Table":  # noqa: F821
    """All published feature-log files under ``path`` as one Arrow table (empty when none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(path).glob("*.parquet")) if Path(path).is_dir() else []
    if not files:
        return log_schema().empty_table()
    return pa.concat_tables([pq.read_table(f, schema=log_schema()) for f in files])
