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
"""
from __future__ import annotations

import atexit
import datetime as _dt
import json
import math
import os
import collections
from itertools import chain, repeat
import random
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from featurewarehouse.errors import ConfigError

try:
    import orjson as _orjson

    def _dump_str(text: str) -> str:
        return _orjson.dumps(text).decode()
except ImportError:  # pragma: no cover - orjson comes with the serve extra
    def _dump_str(text: str) -> str:
        return json.dumps(text)

LOG_COLUMNS = (
    "request_id", "served_at", "row_index", "entity_keys",
    "feature_view", "feature_name", "value", "status", "event_ts",
)


def log_schema():
    """The Arrow schema of a feature-log file (contract 4)."""
    import pyarrow as pa

    return pa.schema([
        ("request_id", pa.string()),
        ("served_at", pa.timestamp("us")),
        ("row_index", pa.int32()),
        ("entity_keys", pa.string()),
        ("feature_view", pa.string()),
        ("feature_name", pa.string()),
        ("value", pa.string()),
        ("status", pa.string()),
        ("event_ts", pa.timestamp("us")),
    ])


def request_ids() -> Callable[[], str]:
    """Request ids unique across processes and restarts: a random prefix drawn once, then a counter.

    (uuid4 per request reads the OS random source each time, which costs more than the online read.)
    """
    import itertools

    prefix = uuid.uuid4().hex[:16]
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def canonical_keys(keys: dict[str, Any]) -> str:
    """Join keys as canonical JSON: keys sorted, no spaces.

    >>> canonical_keys({"merchant_id": 7, "customer_id": 42})
    '{"customer_id":42,"merchant_id":7}'
    """
    return json.dumps(keys, sort_keys=True, separators=(",", ":"), default=_json_default)


def encode_value(value: Any) -> str | None:
    """A served value as JSON text; None (SQL NULL) when there is no value.

    >>> encode_value(0.1), encode_value("a"), encode_value(None), encode_value(float("nan")), encode_value(True)
    ('0.1', '"a"', None, None, 'true')
    """
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float:
        # repr of a finite float is valid JSON and round-trips; JSON has no NaN/inf
        return repr(value) if math.isfinite(value) else None
    if value is None:
        return None
    if kind is str:
        return _dump_str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def _keys_array(names: list[str], columns: Sequence[Sequence[Any]], n: int) -> "pa.Array":  # noqa: F821
    """canonical_keys of every row as one Arrow string array (integer keys joined by Arrow, not Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not names:
        return pa.array(["{}"] * n, pa.string())
    order = sorted(range(len(names)), key=lambda k: names[k])
    parts: list[Any] = []
    for i, k in enumerate(order):
        parts.append(("{" if i == 0 else ",") + _dump_str(names[k]) + ":")
        col = columns[k]
        if all(type(v) is int for v in col):
            parts.append(pa.array(col, pa.int64()).cast(pa.string()))
        else:
            parts.append(pa.array([json.dumps(v, default=_json_default) for v in col], pa.string()))
    parts.append("}")
    if not any(isinstance(p, pa.Array) for p in parts):  # pragma: no cover - keys always hold a column
        return pa.array(["".join(parts)] * n, pa.string())
    return pc.binary_join_element_wise(*parts, "")


def _values_array(values: list[Any]) -> "pa.Array":  # noqa: F821
    """encode_value of every value as one Arrow string array; numbers and booleans are cast by Arrow.

    Arrow writes the shortest text that round-trips a double ("0.1", "1" for 1.0), which is valid JSON.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        arr = None
    if arr is not None:
        t = arr.type
        if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
            return arr.cast(pa.string())
        if pa.types.is_floating(t):
            finite = pc.is_finite(arr)  # JSON has no NaN or infinity: those are logged as missing
            return pc.if_else(finite, arr, pa.scalar(None, t)).cast(pa.string())
    return pa.array([encode_value(v) for v in values], pa.string())


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    import decimal

    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"cannot log a value of type {type(value).__name__}")


def _utc_naive(ts: Any) -> _dt.datetime | None:
    if ts is None:
        return None
    if isinstance(ts, str):
        ts = _dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if not isinstance(ts, _dt.datetime):
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return ts


def _split_ref(ref: Any) -> tuple[str, str]:
    if isinstance(ref, str):
        view, sep, name = ref.partition(":")
        if not sep or not view or not name or name == "*":
            raise ConfigError(
                f"the feature log needs resolved refs view:feature, got {ref!r}",
                hint="resolve wildcards with Registry.resolve before logging",
            )
        return view, name
    return ref.view, ref.name


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
    ):
        if not 0.0 <= sample_rate <= 1.0:
            raise ConfigError(
                f"log sample rate {sample_rate} is not between 0 and 1",
                hint="pass --log-sample-rate 1.0 to log every request, 0.1 for one in ten",
            )
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
        self._next_id = request_ids()
        self._closed = False
        self._close_lock = threading.Lock()
        # Import the writer's libraries now: at interpreter exit (when close() may
        # run from atexit) a first import of pyarrow fails.
        import concurrent.futures.thread  # noqa: F401  (pyarrow's writer needs it)

        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401

        self._thread = threading.Thread(target=self._run, name="fw-feature-log", daemon=True)
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
    ) -> bool:
        """Queue one response for logging; True when accepted (and so durable after close()).

        ``result`` is an :class:`OnlineFeatures` (column-major, join keys first);
        ``features`` are the resolved refs of its feature columns, in order
        (``"view:feature"`` strings or objects with ``.view`` and ``.name``).
        ``served_at`` defaults to now (UTC); pass it to replay historical traffic.
        """
        if self._closed:
            return False
        if self.sample_rate < 1.0 and self._rng.random() >= self.sample_rate:
            self._sampled_out += 1
            return False
        if served_at is None:
            served_at = time.time_ns() // 1000  # UTC epoch micros: cheaper than a datetime here
        items = self._items
        if len(items) >= self.queue_size:
            self._dropped += 1
            return False
        items.append((request_id or self._next_id(), served_at, result, tuple(features)))
        self._accepted += 1
        if len(items) == self._wake_at:
            self._wake.set()
        return True

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
        return SinkStats(
            accepted=self._accepted,
            sampled_out=self._sampled_out,
            dropped=self._dropped,
            rows_written=self._rows_written,
            files_written=self._files_written,
            errors=self._errors,
            last_error=self._last_error,
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

        Responses with the same feature list are converted together, column by column:
        the per-vector columns (request id, time, row, keys) are built once and reused
        as chunks for every feature, so the Python work per logged cell is one value
        encoding. This runs on the writer thread, but holds the GIL: it must stay cheap.
        """
        if not self._pending:
            return
        import pyarrow as pa

        items, self._pending, self._pending_rows = self._pending, [], 0
        groups: dict[tuple, list[tuple]] = {}
        for item in items:
            try:
                key = (item[3], tuple(item[2].feature_names))
            except Exception as exc:  # noqa: BLE001 - not a result: count it, keep the others
                self._errors += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                continue
            groups.setdefault(key, []).append(item)
        tables = []
        for (features, names), group in groups.items():
            try:
                tables.append(self._group_table(features, names, group))
            except Exception as exc:  # noqa: BLE001 - one malformed response must not lose the others
                if len(group) == 1:
                    raise
                for item in group:
                    try:
                        tables.append(self._group_table(features, names, [item]))
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

    def _group_table(self, features: tuple, names: tuple, group: list[tuple]) -> "pa.Table":  # noqa: F821
        import pyarrow as pa

        n_feat = len(features)
        n_keys = len(names) - n_feat
        if n_keys < 0:
            raise ValueError(f"{n_feat} feature refs for {len(names)} columns")
        refs = self._refs.get(features)
        if refs is None:
            refs = [_split_ref(f) for f in features]
            if len(self._refs) < 1024:
                self._refs[features] = refs
        results = [item[2] for item in group]
        sizes = [len(r.values[0]) if r.values else 0 for r in results]
        total = sum(sizes)
        width = len(names)
        flat = chain.from_iterable
        if all(n == 1 for n in sizes):
            # the common case, one entity per request: flatten each response once (C speed) and
            # take every feature's column as a strided slice of the flat list
            def column(attr: str) -> Any:
                cells = list(flat(flat(getattr(r, attr)) for r in results))
                return lambda col: cells[col::width]
        else:
            def column(attr: str) -> Any:
                return lambda col: [v for r in results for v in getattr(r, attr)[col]]
        values_of, statuses_of, stamps_of = column("values"), column("statuses"), column("event_timestamps")
        per_vector = [
            pa.array(list(flat(repeat(item[0], n) for item, n in zip(group, sizes))), pa.string()),
            _served_array(group, sizes),
            pa.array(list(flat(range(n) for n in sizes)), pa.int32()),
            _keys_array(list(names[:n_keys]), [values_of(k) for k in range(n_keys)], total),
        ]
        # An OnlineFeatures gives every feature of a view the same event time per row (the row's):
        # convert it once per view. Other results are converted feature by feature.
        shared_ts = type(results[0]).__name__ == "OnlineFeatures"
        view_ts: dict[str, Any] = {}
        chunks: list[list] = [[] for _ in LOG_COLUMNS]
        for j, (view, name) in enumerate(refs):
            col = n_keys + j
            for c in range(4):
                chunks[c].append(per_vector[c])  # the same arrays again: no copy
            chunks[4].append(pa.repeat(pa.scalar(view, pa.string()), total))
            chunks[5].append(pa.repeat(pa.scalar(name, pa.string()), total))
            chunks[6].append(_values_array(values_of(col)))
            chunks[7].append(pa.array(statuses_of(col), pa.string()))
            ts = view_ts.get(view) if shared_ts else None
            if ts is None:
                # aware datetimes are converted to UTC by Arrow; naive ones are UTC already
                ts = pa.array(stamps_of(col), pa.timestamp("us"))
                view_ts[view] = ts
            chunks[8].append(ts)
        schema = log_schema()
        return pa.Table.from_arrays([pa.chunked_array(c, schema.field(i).type) for i, c in enumerate(chunks)], schema=schema)

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


def _served_array(group: list[tuple], sizes: list[int]) -> "pa.Array":  # noqa: F821
    """served_at per logged vector: epoch micros (from log()) or datetimes (passed by the caller)."""
    import pyarrow as pa

    stamps = [item[1] for item in group]
    flat = chain.from_iterable
    if all(type(s) is int for s in stamps):
        return pa.array(list(flat(repeat(s, n) for s, n in zip(stamps, sizes))), pa.int64()).cast(pa.timestamp("us"))
    stamps = [s if type(s) is not int else _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=s) for s in stamps]
    return pa.array(list(flat(repeat(_utc_naive(s), n) for s, n in zip(stamps, sizes))), pa.timestamp("us"))


def _cells(item: tuple) -> int:
    """Log rows one pending response will produce (entity rows x features)."""
    try:
        values = item[2].values
        return (len(values[0]) if values else 0) * len(item[3])
    except Exception:  # noqa: BLE001 - a malformed entry is reported when it is written
        return 1


def read_log(path: str | Path) -> "pa.Table":  # noqa: F821
    """All published feature-log files under ``path`` as one Arrow table (empty when none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(path).glob("*.parquet")) if Path(path).is_dir() else []
    if not files:
        return log_schema().empty_table()
    return pa.concat_tables([pq.read_table(f, schema=log_schema()) for f in files])
