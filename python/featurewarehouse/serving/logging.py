"""The served-vector log sink: Parquet files the ``feature_log`` dbt model reads.

A request hands the sink one object (the response it already built) and goes on:
``log()`` is a sampling decision plus a non-blocking ``queue.put``. A background
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
import queue
import random
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from featurewarehouse.errors import ConfigError

LOG_COLUMNS = (
    "request_id", "served_at", "row_index", "entity_keys",
    "feature_view", "feature_name", "value", "status", "event_ts",
)
_STOP = object()
_FLUSH = "flush"


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


def canonical_keys(keys: dict[str, Any]) -> str:
    """Join keys as canonical JSON: keys sorted, no spaces.

    >>> canonical_keys({"merchant_id": 7, "customer_id": 42})
    '{"customer_id":42,"merchant_id":7}'
    """
    return json.dumps(keys, sort_keys=True, separators=(",", ":"), default=_json_default)


def encode_value(value: Any) -> str | None:
    """A served value as JSON text; None (SQL NULL) when there is no value.

    >>> encode_value(0.1), encode_value("a"), encode_value(None), encode_value(float("nan"))
    ('0.1', '"a"', None, None)
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return json.dumps(value, separators=(",", ":"), default=_json_default)


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
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._accepted = self._sampled_out = self._dropped = 0
        self._rows_written = self._files_written = self._errors = 0
        self._last_error: str | None = None
        self._seq = 0
        self._writer = None
        self._file: Path | None = None
        self._file_opened = 0.0
        self._buffer: dict[str, list] = {c: [] for c in LOG_COLUMNS}
        self._closed = False
        self._close_lock = threading.Lock()
        self._flushed = threading.Condition()
        self._flush_gen = 0
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
            served_at = _dt.datetime.now(_dt.timezone.utc)
        item = (request_id or uuid.uuid4().hex, served_at, result, tuple(features))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._dropped += 1
            return False
        self._accepted += 1
        return True

    # ---- control -------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> None:
        """Write everything accepted so far and publish the current file."""
        if self._closed:
            return
        with self._flushed:
            target = self._flush_gen + 1
            self._queue.put(_FLUSH)
            self._flushed.wait_for(lambda: self._flush_gen >= target or not self._thread.is_alive(), timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Drain the queue, publish the last file, stop the thread. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put(_STOP)
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
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._guard(self._write_buffer)
                self._guard(self._publish)
                return
            if item == _FLUSH:
                self._guard(self._write_buffer)
                self._guard(self._publish)
                with self._flushed:
                    self._flush_gen += 1
                    self._flushed.notify_all()
                continue
            if item is not None:
                self._guard(lambda: self._explode(item))
                if len(self._buffer["request_id"]) >= self.batch_rows:
                    self._guard(self._write_buffer)
            if time.monotonic() >= deadline:
                self._guard(self._write_buffer)
                if self._writer is not None and time.monotonic() - self._file_opened >= self.max_file_seconds:
                    self._guard(self._publish)
                deadline = time.monotonic() + self.flush_seconds

    def _guard(self, fn) -> None:
        # The writer must outlive a bad entry or a full disk: count and go on.
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            self._errors += 1
            self._last_error = f"{type(exc).__name__}: {exc}"

    def _explode(self, item: tuple) -> None:
        request_id, served_at, result, features = item
        served = _utc_naive(served_at)
        names = list(result.feature_names)
        n_feat = len(features)
        n_keys = len(names) - n_feat
        if n_keys < 0:
            raise ValueError(f"{n_feat} feature refs for {len(names)} columns")
        refs = [_split_ref(f) for f in features]
        values, statuses, stamps = result.values, result.statuses, result.event_timestamps
        n_rows = len(values[0]) if values else 0
        buf = self._buffer
        for row in range(n_rows):
            keys = canonical_keys({names[k]: values[k][row] for k in range(n_keys)})
            for j, (view, name) in enumerate(refs):
                col = n_keys + j
                buf["request_id"].append(request_id)
                buf["served_at"].append(served)
                buf["row_index"].append(row)
                buf["entity_keys"].append(keys)
                buf["feature_view"].append(view)
                buf["feature_name"].append(name)
                buf["value"].append(encode_value(values[col][row]))
                buf["status"].append(str(statuses[col][row]))
                buf["event_ts"].append(_utc_naive(stamps[col][row]))

    def _write_buffer(self) -> None:
        if not self._buffer["request_id"]:
            return
        import pyarrow as pa

        table = pa.table({c: self._buffer[c] for c in LOG_COLUMNS}, schema=log_schema())
        self._buffer = {c: [] for c in LOG_COLUMNS}
        if self._writer is None:
            self._open()
        self._writer.write_table(table)
        self._rows_written += table.num_rows
        if self._file is not None and self._file.stat().st_size >= self.max_file_bytes:
            self._publish()

    def _open(self) -> None:
        import pyarrow.parquet as pq

        self._seq += 1
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        self._file = self.path / f"{self.prefix}-{stamp}-{os.getpid()}-{self._seq:05d}.parquet.inprogress"
        self._writer = pq.ParquetWriter(str(self._file), log_schema(), compression="zstd")
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


def read_log(path: str | Path) -> "pa.Table":  # noqa: F821
    """All published feature-log files under ``path`` as one Arrow table (empty when none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(path).glob("*.parquet")) if Path(path).is_dir() else []
    if not files:
        return log_schema().empty_table()
    return pa.concat_tables([pq.read_table(f, schema=log_schema()) for f in files])
