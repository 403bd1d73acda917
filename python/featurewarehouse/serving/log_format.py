"""The feature-log format (contract 4) and the conversion of served responses to it.

Pure functions, no threads: :mod:`featurewarehouse.serving.logging` batches and writes.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
from itertools import chain, repeat
from typing import Any, Sequence

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
    "feature_view", "feature_name", "value", "status", "event_ts", "feature_service",
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
        # the feature service the request named (null for feature refs, and in files written before it existed)
        ("feature_service", pa.string()),
    ])


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


def keys_array(names: list[str], columns: Sequence[Sequence[Any]], n: int) -> "pa.Array":  # noqa: F821
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


def values_array(values: list[Any]) -> "pa.Array":  # noqa: F821
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


def utc_naive(ts: Any) -> _dt.datetime | None:
    if ts is None:
        return None
    if isinstance(ts, str):
        ts = _dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if not isinstance(ts, _dt.datetime):
        return None
    if ts.tzinfo is not None:
        ts = ts.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return ts


_ZERO_TS = "1970-01-01T00:00:00Z"  # Feast's "no event timestamp" (wire.feast_json writes it for None)


class DecodedResponse:
    """The columns of a served response, decoded from the bytes the server sent or forwarded by the sink.

    Event timestamps may be RFC 3339 text (from a payload); :func:`stamps_array` converts them in Arrow.
    ``shared_view_ts``: every feature of a view has its row's event time (true of ``OnlineFeatures``).
    """

    __slots__ = ("feature_names", "values", "statuses", "event_timestamps", "shared_view_ts")

    def __init__(self, feature_names: list, values: list, statuses: list, event_timestamps: list, shared: bool):
        self.feature_names, self.values, self.statuses = feature_names, values, statuses
        self.event_timestamps, self.shared_view_ts = event_timestamps, shared


def as_result(data: Any) -> Any:
    """A logged entry's response: Feast JSON bytes (the server's payload) or a (names, values, statuses,
    event_timestamps) tuple (a result forwarded to the writer process)."""
    if type(data) is tuple:
        return DecodedResponse(*data, False)
    try:
        import orjson

        body = orjson.loads(data)
    except ImportError:  # pragma: no cover - orjson comes with the serve extra
        body = json.loads(data)
    results = body["results"]
    return DecodedResponse(
        body["metadata"]["feature_names"],
        [r["values"] for r in results],
        [r["statuses"] for r in results],
        [r["event_timestamps"] for r in results],
        True,  # payloads are encoded OnlineFeatures
    )


def stamps_array(stamps: list) -> "pa.Array":  # noqa: F821
    """Event times as timestamp[us] (naive UTC): datetimes, or RFC 3339 text with Feast's zero time as null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not any(type(s) is str for s in stamps):
        return pa.array(stamps, pa.timestamp("us"))  # aware datetimes are converted to UTC by Arrow
    text = pa.array(stamps, pa.string())
    text = pc.if_else(pc.equal(text, _ZERO_TS), pa.scalar(None, pa.string()), text)
    return text.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))


def split_ref(ref: Any) -> tuple[str, str]:
    if isinstance(ref, str):
        view, sep, name = ref.partition(":")
        if not sep or not view or not name or name == "*":
            raise ConfigError(
                f"the feature log needs resolved refs view:feature, got {ref!r}",
                hint="resolve wildcards with Registry.resolve before logging",
            )
        return view, name
    return ref.view, ref.name


def responses_table(refs: Sequence[tuple[str, str]], names: Sequence[str], group: list[tuple]) -> "pa.Table":  # noqa: F821
    """Log rows (contract 4) of responses with the same columns: ``group`` holds
    ``(request_id, served_at, result, features)`` tuples, ``refs`` the (view, feature) of each feature column.

    Built column by column: the per-vector columns (request id, time, row, keys) once, reused as chunks for
    every feature, so the Python work per logged cell is about one value conversion.
    """
    import pyarrow as pa

    n_feat = len(refs)
    n_keys = len(names) - n_feat
    if n_keys < 0:
        raise ValueError(f"{n_feat} feature refs for {len(names)} columns")
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

        def stamps_of(col: int) -> list:  # few columns are asked for (one per view): no full flatten
            return [r.event_timestamps[col][0] for r in results]
    else:
        def column(attr: str) -> Any:
            return lambda col: [v for r in results for v in getattr(r, attr)[col]]

        stamps_of = column("event_timestamps")
    values_of, statuses_of = column("values"), column("statuses")
    per_vector = [
        pa.array(list(flat(repeat(item[0], n) for item, n in zip(group, sizes))), pa.string()),
        served_array(group, sizes),
        pa.array(list(flat(range(n) for n in sizes)), pa.int32()),
        keys_array(list(names[:n_keys]), [values_of(k) for k in range(n_keys)], total),
    ]
    # An OnlineFeatures gives every feature of a view the same event time per row (the row's):
    # convert it once per view. Other results are converted feature by feature.
    shared_ts = type(results[0]).__name__ == "OnlineFeatures" or getattr(results[0], "shared_view_ts", False)
    view_ts: dict[str, Any] = {}
    chunks: list[list] = [[] for _ in LOG_COLUMNS[:-1]]
    for j, (view, name) in enumerate(refs):
        col = n_keys + j
        for c in range(4):
            chunks[c].append(per_vector[c])  # the same arrays again: no copy
        chunks[4].append(pa.repeat(pa.scalar(view, pa.string()), total))
        chunks[5].append(pa.repeat(pa.scalar(name, pa.string()), total))
        chunks[6].append(values_array(values_of(col)))
        chunks[7].append(pa.array(statuses_of(col), pa.string()))
        ts = view_ts.get(view) if shared_ts else None
        if ts is None:
            # aware datetimes are converted to UTC by Arrow; naive ones are UTC already
            ts = stamps_array(stamps_of(col))
            view_ts[view] = ts
        chunks[8].append(ts)
    schema = log_schema()
    arrays = [pa.chunked_array(c, schema.field(i).type) for i, c in enumerate(chunks)]
    # rows are feature-major (every vector's rows for one feature, then the next feature)
    owner = pa.array(list(chain.from_iterable(repeat(i, n) for i, n in enumerate(sizes))), pa.int64())
    services = services_array(group).take(owner)
    arrays.append(pa.chunked_array([services] * n_feat, pa.string()))
    return pa.Table.from_arrays(arrays, schema=schema)


def services_array(group: list[tuple]) -> "pa.Array":  # noqa: F821
    """The feature service each entry named (its fifth element; null when it named feature refs), one per entry."""
    import pyarrow as pa

    return pa.array([item[4] if len(item) > 4 else None for item in group], pa.string())


def served_array(group: list[tuple], sizes: list[int]) -> "pa.Array":  # noqa: F821
    """served_at per logged vector: epoch micros (from log()) or datetimes (passed by the caller)."""
    import pyarrow as pa

    stamps = [item[1] for item in group]
    flat = chain.from_iterable
    if all(type(s) is int for s in stamps):
        return pa.array(list(flat(repeat(s, n) for s, n in zip(stamps, sizes))), pa.int64()).cast(pa.timestamp("us"))
    stamps = [s if type(s) is not int else _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=s) for s in stamps]
    return pa.array(list(flat(repeat(utc_naive(s), n) for s, n in zip(stamps, sizes))), pa.timestamp("us"))
