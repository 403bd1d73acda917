"""Log rows from the server's response bytes, converted a batch at a time in Arrow.

The server logs the Feast JSON it sent (:func:`wire.feast_json`, written by orjson with
a fixed layout). Decoding every response into Python objects cost the log writer more
than the rest of its work, so a batch of responses with the same columns is cut into
its pieces with Arrow string kernels instead: the value of a cell is already JSON text
in the response, which is what the log stores.

The cuts rely on one property of JSON text: a quote inside a string is escaped, so a
separator that contains a bare quote (``},{"values":``, ``],"statuses":[``) only occurs
where the encoder put it. Anything that does not have the expected layout is left to
the Python decoder (:func:`payload_header` returns None, :func:`payloads_table` raises
:class:`NotPayloadLayout`), which produces the same rows.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

from featurewarehouse.serving.log_format import _dump_str, _json_default, log_schema, served_array, services_array

# A response: {"metadata":{"feature_names":[...]},"results":[{"values":[...],"statuses":["..."],
# "event_timestamps":["..."]},{"values":[...],...}]}
_RESULTS = b'},"results":[{"values":['  # between the feature names and the first result's values
_END = b'"]}]}'
_NEXT = '"]},{"values":['  # between two results
_STATUSES = '],"statuses":["'
_STAMPS = '"],"event_timestamps":["'
_ZERO_TS = "1970-01-01T00:00:00Z"


class NotPayloadLayout(ValueError):
    """The bytes are not laid out as feast_json writes them (convert them with the Python decoder)."""


def payload_header(payload: bytes) -> bytes | None:
    """The response's leading ``{"metadata":{"feature_names":[...]`` (None: not feast_json's layout).

    Responses with equal headers have the same columns and are converted together.
    """
    i = payload.find(_RESULTS)
    if i < 0 or not payload.endswith(_END):
        return None
    return payload[:i]


def header_names(header: bytes) -> list[str]:
    import orjson

    return orjson.loads(header + b"}}")["metadata"]["feature_names"]


def payloads_table(refs: Sequence[tuple[str, str]], header: bytes, group: list[tuple]) -> "pa.Table":  # noqa: F821
    """Log rows (contract 4) of server responses that share ``header``.

    ``group`` holds ``(request_id, served_at, payload, features)`` tuples; ``refs`` the (view, feature)
    of each feature column. Rows come per response, then feature, then entity row (as responses_table).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    names = header_names(header)
    width, n_feat = len(names), len(refs)
    n_keys = width - n_feat
    if n_keys < 0:
        raise ValueError(f"{n_feat} feature refs for {len(names)} columns")
    n_req = len(group)
    # the results' text, from the first result's values to the last one's event times
    body = pc.binary_slice(pa.array([item[2] for item in group], pa.binary()), len(header) + len(_RESULTS), -len(_END))
    segs = pc.list_flatten(pc.split_pattern(body.cast(pa.string()), _NEXT))
    if len(segs) != n_req * width:
        raise NotPayloadLayout("a response has a different number of results than its feature names")
    values, rest = _cut(segs, _STATUSES)
    statuses, stamps = _cut(rest, _STAMPS)

    # cells per result (= entity rows of its response): one unless a status list holds a separator
    if pc.any(pc.match_substring(statuses, '","')).as_py():
        lens = pc.add(pc.count_substring(statuses, '","'), 1).to_numpy(zero_copy_only=False).astype(np.int64)
        statuses = pc.list_flatten(pc.split_pattern(statuses, '","'))
        stamps = pc.list_flatten(pc.split_pattern(stamps, '","'))
        values = _split_values(values, lens)
    else:
        lens = np.ones(len(segs), np.int64)
    if not len(values) == len(statuses) == len(stamps) == int(lens.sum()):
        raise NotPayloadLayout("a result's values, statuses and event_timestamps differ in length")
    rows = lens.reshape(n_req, width)
    if (rows != rows[:, :1]).any():
        raise NotPayloadLayout("the results of a response differ in length")
    rows = rows[:, 0]

    # per cell: its result (segment), column, response and entity row
    seg = np.repeat(np.arange(len(segs)), lens)
    col = seg % width
    req = seg // width
    row = np.arange(len(seg)) - (np.cumsum(lens) - lens)[seg]
    feature = col >= n_keys
    key_index = ((np.cumsum(rows) - rows)[req] + row)[feature]
    keep = pa.array(feature)

    keys = _keys_text([names[k] for k in range(n_keys)], [pc.filter(values, pa.array(col == k)) for k in range(n_keys)],
                      int(rows.sum()))
    req, row, col = req[feature], row[feature], col[feature] - n_keys
    try:  # epoch micros, as log() stamps them
        served = pa.array([item[1] for item in group], pa.int64()).cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # datetimes passed by the caller
        served = served_array(group, [1] * n_req)
    stamps = pc.filter(stamps, keep)
    stamps = pc.if_else(pc.equal(stamps, _ZERO_TS), pa.scalar(None, pa.string()), stamps)
    columns = [
        pa.array([item[0] for item in group], pa.string()).take(pa.array(req)),
        served.take(pa.array(req)),
        pa.array(row, pa.int32()),
        keys.take(pa.array(key_index)),
        pa.array([r[0] for r in refs], pa.string()).take(pa.array(col)),
        pa.array([r[1] for r in refs], pa.string()).take(pa.array(col)),
        _normalize_values(pc.filter(values, keep)),
        pc.filter(statuses, keep),
        stamps.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us")),
        services_array(group).take(pa.array(req)),
    ]
    return pa.Table.from_arrays(columns, schema=log_schema())


def _cut(texts: "pa.Array", separator: str) -> tuple["pa.Array", "pa.Array"]:  # noqa: F821
    """Each text's parts before and after its first ``separator`` (which every text must hold)."""
    import pyarrow.compute as pc

    parts = pc.split_pattern(texts, separator, max_splits=1)
    if pc.min(pc.list_value_length(parts)).as_py() != 2:
        raise NotPayloadLayout(f"a result is not laid out as feast_json writes it (no {separator!r})")
    return pc.list_element(parts, 0), pc.list_element(parts, 1)


def _split_values(values: "pa.Array", lens: Any) -> "pa.Array":  # noqa: F821
    """Each result's ``v1,v2,...`` text as one text per value. Numbers split at commas in Arrow;
    a list with a string in it (which may hold a comma) is parsed, in Python, when it holds several."""
    import pyarrow as pa
    import pyarrow.compute as pc

    quoted = pc.match_substring(values, '"').to_numpy(zero_copy_only=False)
    if not quoted.any():
        return pc.list_flatten(pc.split_pattern(values, ","))
    import orjson

    out: list[str | None] = []
    for text, q, n in zip(values.to_pylist(), quoted, lens):
        if not q:
            out.extend(text.split(","))
        elif n == 1:
            out.append(text)
        else:
            out.extend(None if v is None else orjson.dumps(v).decode() for v in orjson.loads("[" + text + "]"))
    return pa.array(out, pa.string())


def _normalize_values(cells: "pa.Array") -> "pa.Array":  # noqa: F821
    """Value texts as the log writes them (log_format.values_array): null for JSON null,
    numbers with a fraction or exponent in Arrow's shortest round-trip form ("2" for 2.0)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    null = pa.scalar(None, pa.string())
    cells = pc.if_else(pc.equal(cells, "null"), null, cells)
    floats = pc.match_substring_regex(cells, r"^-?[0-9]+[.eE]")
    if pc.any(floats).as_py():
        as_double = pc.if_else(floats, cells, null).cast(pa.float64()).cast(pa.string())
        cells = pc.if_else(floats, as_double, cells)
    return cells


def _keys_text(names: list[str], columns: list["pa.Array"], n: int) -> "pa.Array":  # noqa: F821
    """canonical_keys of every entity row from the join keys' value texts (integers as they are;
    strings re-encoded as json.dumps writes them, which canonical_keys uses)."""
    import orjson
    import pyarrow as pa
    import pyarrow.compute as pc

    if not names:
        return pa.array(["{}"] * n, pa.string())
    parts: list[Any] = []
    for i, k in enumerate(sorted(range(len(names)), key=lambda k: names[k])):
        parts.append(("{" if i == 0 else ",") + _dump_str(names[k]) + ":")
        text = columns[k]
        if not pc.all(pc.match_substring_regex(text, r"^-?[0-9]+$")).as_py():
            text = pa.array([json.dumps(orjson.loads(t), default=_json_default) for t in text.to_pylist()], pa.string())
        parts.append(text)
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")
