"""Feast's feature-server wire format: request checks, response encoding, OpenAPI models.

Request: Feast's ``GetOnlineFeaturesRequest`` (feature_server.py), column-major
``{"features": [...], "entities": {"customer_id": [1, 2]}, "full_feature_names": false}``.
Response: ``GetOnlineFeaturesResponse`` (ServingService.proto) as Feast renders it
with ``MessageToDict`` and its value patch: ``metadata.feature_names`` and one
``results[i]`` (``values``, ``statuses``, ``event_timestamps``) per name.
"""
from __future__ import annotations

import itertools
from typing import Annotated, Any, Dict, List, Optional, Union

from pydantic import BaseModel, Field, StringConstraints

from featurewarehouse.refs import did_you_mean

try:  # orjson comes with the serve extra; plain json keeps working without it
    import orjson

    def _loads(raw: bytes) -> Any:
        return orjson.loads(raw)

    def _dumps(data: Any) -> bytes:
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)

    _DecodeError: tuple[type[Exception], ...] = (orjson.JSONDecodeError,)
    _HAS_ORJSON = True
except ImportError:  # pragma: no cover - exercised only without the serve extra
    import json

    def _loads(raw: bytes) -> Any:
        return json.loads(raw)

    def _dumps(data: Any) -> bytes:
        return json.dumps(data, default=str, allow_nan=False).encode()

    _DecodeError = (ValueError,)
    _HAS_ORJSON = False

# The fields of Feast 0.67's GetOnlineFeaturesRequest (feature_server.py). Like Feast's server
# (a pydantic model), this one ignores any other field; include_feature_view_version_metadata
# is accepted and ignored (there are no feature-view versions here).
_REQUEST_FIELDS = ("features", "entities", "full_feature_names", "feature_service", "include_feature_view_version_metadata")
_INT64 = (-(2**63), 2**63 - 1)
_MAX_KEY_TEXT = 1024

# Bounds on what one request may ask for, checked before any per-name or per-value work, so a
# client cannot buy seconds of server time with one request (issue 20). Identifiers in every
# supported warehouse are far shorter than MAX_NAME_CHARS.
MAX_NAME_CHARS = 255  # a view, feature, join-key or request-field name
MAX_REF_CHARS = 2 * MAX_NAME_CHARS + 1  # "view:feature"
MAX_FEATURES = 1000  # feature refs per request
MAX_JOIN_KEYS = 32  # join-key columns per request


def value_budget(max_entities: int) -> int:
    """The most JSON values (counted by their commas) a request may hold: every key value and ref, plus slack."""
    return max_entities * MAX_JOIN_KEYS + MAX_FEATURES + 64


# ---- OpenAPI documentation of the wire format ----------------------------------
_Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
_KeyValue = Union[Annotated[int, Field(ge=_INT64[0], le=_INT64[1])], Annotated[str, StringConstraints(max_length=_MAX_KEY_TEXT)]]


class GetOnlineFeaturesRequest(BaseModel):
    """Feast's column-major request, with this server's bounds (the parser checks the same ones).

    Rules JSON Schema does not state: every join-key list has the same length; exactly one of
    ``features`` and ``feature_service`` is given. Other
    fields are ignored, as Feast's server ignores them.
    """

    # (defaults of None without Optional: the schema says "a list" / "a name", not "or null")
    features: List[Annotated[str, StringConstraints(min_length=1, max_length=MAX_REF_CHARS)]] = Field(
        None, min_length=1, max_length=MAX_FEATURES, description="Feature refs `view:feature` or `view:*`.",
        examples=[["customer_spend_features:txn_count_7d"]],
    )
    entities: Dict[_Name, Annotated[List[_KeyValue], Field(min_length=1)]] = Field(
        ..., min_length=1, max_length=MAX_JOIN_KEYS,
        description="Join-key name -> one value per entity row (all lists the same length).",
        examples=[{"customer_id": [1, 2]}],
    )
    full_feature_names: bool = Field(False, description="Name features `view__feature` instead of `feature`.")
    feature_service: _Name = Field(
        None, description="A feature service declared in the project (vars.fw.feature_services), instead of `features`.")
    include_feature_view_version_metadata: bool = Field(False, description="Feast's field; accepted and ignored.")


def request_schema(max_entities: int) -> dict[str, Any]:
    """The request's JSON Schema for a server taking at most ``max_entities`` rows."""
    schema = GetOnlineFeaturesRequest.model_json_schema()
    schema["properties"]["entities"]["additionalProperties"]["maxItems"] = max_entities
    # features or a feature service (not both: a rule the parser states, "both ... and feature service")
    schema["anyOf"] = [{"required": ["features"]}, {"required": ["feature_service"]}]
    return schema


class ResponseMetadata(BaseModel):
    feature_names: List[str]


class FeatureVector(BaseModel):
    values: List[Any]
    statuses: List[str] = Field(description="PRESENT | NULL_VALUE | NOT_FOUND | OUTSIDE_MAX_AGE")
    event_timestamps: List[str] = Field(description="RFC 3339 UTC; 1970-01-01T00:00:00Z when there is none")


class GetOnlineFeaturesResponse(BaseModel):
    metadata: ResponseMetadata
    results: List[FeatureVector]


class ErrorBody(BaseModel):
    detail: str
    hint: Optional[str] = None


# What Feast's feature server answers for a FeastError (its rest_exception_handler): the JSON
# text of {module, class, message}, itself JSON-encoded. Feast's SDK (rest_error_handler)
# decodes it and raises feast.errors.<class> with the message; any other body makes it log
# "Invalid error detail" and raise a bare RuntimeError.
FEAST_ERROR_SCHEMA = {
    "type": "string",
    "description": 'JSON text {"module": "feast.errors", "class": <a Feast error class>, "message": <what is wrong; '
                   'how to fix it>}, as Feast\'s feature server returns a FeastError.',
}


def error_body(detail: str, hint: str | None = None, feast_class: str = "FeastError") -> bytes:
    """An error response body in Feast's shape; the message says what is wrong and how to fix it.

    >>> import json
    >>> json.loads(json.loads(error_body("unknown view 'x'", "run fwctl sync-online")))["message"]
    "unknown view 'x' (hint: run fwctl sync-online)"
    """
    message = f"{detail} (hint: {hint})" if hint else detail
    inner = _dumps({"module": "feast.errors", "class": feast_class, "message": message})
    return _dumps(inner.decode())


def error_message(body: bytes) -> str:
    """The message of an :func:`error_body` (for clients and tests)."""
    return _loads(_loads(body))["message"]


class RequestError(Exception):
    """A bad request: status code plus message (and how to fix it), and the Feast error class it maps to."""

    def __init__(self, status: int, detail: str, hint: str | None = None, feast_class: str = "FeastError"):
        super().__init__(detail)
        self.status, self.detail, self.hint, self.feast_class = status, detail, hint, feast_class


# ---- request parsing -----------------------------------------------------------
def parse_request(raw: bytes, *, max_entities: int) -> tuple[list[str] | None, dict[str, list], bool, str | None]:
    """Check a request body; return (features, entities, full_feature_names, feature_service) or raise RequestError.

    A request names either ``features`` or a ``feature_service`` (then ``features`` is None).

    Counts come first (values in the body, refs, join keys, rows), then names (their
    length), then values: the work a request causes is bounded before it is done.
    """
    if not raw:
        raise RequestError(400, "the request body is empty", 'send {"features": [...], "entities": {...}}')
    budget = value_budget(max_entities)
    if raw.count(b",") > budget:  # before parsing: a few MB of tiny values cost the parser (and the loop) seconds
        raise RequestError(413, f"the request holds more than {budget} JSON values; this server accepts at most "
                                f"{max_entities} entity rows of at most {MAX_JOIN_KEYS} join keys and {MAX_FEATURES} features",
                           "split the request, or start the server with a larger --max-entities")
    try:
        body = _loads(raw)
    except _DecodeError as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError(422, f"the request body must be a JSON object, not {type(body).__name__}")
    service = body.get("feature_service")
    if service is not None:
        if not isinstance(service, str) or not service:
            raise RequestError(422, f"\"feature_service\" must be a name, got {_short(service)}")
        if len(service) > MAX_NAME_CHARS:
            raise RequestError(422, f"feature service {_name(service)} is too long ({len(service)} characters, "
                                    f"at most {MAX_NAME_CHARS})", feast_class="FeatureServiceNotFoundException")
        if body.get("features"):  # Feast's server takes the service and ignores features; silence would hide a bug
            raise RequestError(422, f"the request names both \"features\" and feature service {_name(service)}",
                               "send one of them")
    for flag in ("full_feature_names", "include_feature_view_version_metadata"):
        if not isinstance(body.get(flag, False), bool):  # null too: Feast's server (a pydantic bool) refuses it
            raise RequestError(422, f"\"{flag}\" must be true or false, got {_short(body[flag])}")
    features = body.get("features")
    if service is not None:
        features = None
    elif not isinstance(features, list) or not features:
        raise RequestError(422, "\"features\" must be a non-empty list of feature refs" + _unknown_fields(body, "features"),
                           "e.g. [\"customer_spend_features:txn_count_7d\"]")
    if features is not None and len(features) > MAX_FEATURES:
        raise RequestError(413, f"the request names {len(features)} features; at most {MAX_FEATURES} are accepted",
                           "split the request")
    for f in features or ():
        if not isinstance(f, str):
            raise RequestError(422, f"feature refs are strings, got {_short(f)}")
        if len(f) > MAX_REF_CHARS:
            raise RequestError(422, f"feature ref {_name(f)} is too long ({len(f)} characters, at most {MAX_REF_CHARS})",
                               f"feature view and feature names have at most {MAX_NAME_CHARS} characters each")
    entities = body.get("entities")
    if not isinstance(entities, dict) or not entities:
        raise RequestError(422, "\"entities\" must be a non-empty object: join-key name -> list of values"
                           + _unknown_fields(body, "entities"),
                           "e.g. {\"customer_id\": [1, 2]}")
    if len(entities) > MAX_JOIN_KEYS:
        raise RequestError(413, f"the request has {len(entities)} join keys; at most {MAX_JOIN_KEYS} are accepted")
    n_rows = -1
    for name, values in entities.items():  # shapes and counts of every key before any value is looked at
        if not name:
            raise RequestError(422, "entities has an empty join-key name")
        if len(name) > MAX_NAME_CHARS:
            raise RequestError(422, f"join key {_name(name)} is too long ({len(name)} characters, at most {MAX_NAME_CHARS})")
        if not isinstance(values, list):
            raise RequestError(422, f"entities[{name!r}] must be a list of values (column-major), got {_short(values)}")
        if len(values) > max_entities:
            raise RequestError(413, f"the request has {len(values)} entity rows; this server accepts at most {max_entities}",
                               "split the request, or start the server with a larger --max-entities")
        if n_rows == -1:
            n_rows = len(values)
        elif len(values) != n_rows:
            raise RequestError(422, f"entities[{name!r}] has {len(values)} values but other join keys have {n_rows}",
                               "every join-key list holds one value per entity row")
    if n_rows == 0:
        raise RequestError(422, "the request has no entity rows", "send at least one value per join key")
    for name, values in entities.items():
        for i, v in enumerate(values):
            if type(v) is float and v.is_integer():  # 86400.0 is an integer to JSON (Schema); the store keys ints
                values[i] = v = int(v)
            _check_key_value(name, v)
    full = body.get("full_feature_names", False)
    return features, entities, full, service


def _unknown_fields(body: dict, wanted: str) -> str:
    """When a required field is missing, name the ignored field that looks like a typo of it."""
    if wanted in body:
        return ""
    for key in itertools.islice((k for k in body if k not in _REQUEST_FIELDS), 16):
        if did_you_mean(key, (wanted,)):
            return f" (the request has an unknown field {_name(key)}: did you mean {wanted!r}?)"
    return ""


def _name(text: str) -> str:
    """A client-chosen name for a message: quoted, and cut short (messages echo what they name)."""
    return repr(text) if len(text) <= 80 else f"{text[:60]!r}... ({len(text)} characters)"


def _check_key_value(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise RequestError(422, f"entities[{name!r}] holds {_short(v)}; join-key values are integers or strings")
    if isinstance(v, int) and not _INT64[0] <= v <= _INT64[1]:
        raise RequestError(422, f"entities[{name!r}] holds {v}, outside the 64-bit integer range")
    if isinstance(v, str) and len(v) > _MAX_KEY_TEXT:
        raise RequestError(422, f"entities[{name!r}] holds a string of {len(v)} characters (at most {_MAX_KEY_TEXT})")


def _short(value: Any) -> str:
    kind = "null" if value is None else type(value).__name__
    if isinstance(value, (list, dict)) and len(value) > 8:  # never render a whole (client-sized) container
        return f"{kind} of {len(value)} items"
    text = repr(value[:41] if isinstance(value, str) else value)
    return f"{kind} {text[:40]}{'...' if len(text) > 40 else ''}"


# ---- the response -----------------------------------------------------------------
_ZERO_TS = "1970-01-01T00:00:00Z"  # what Feast renders for "no event timestamp"


def feast_json(result: Any) -> bytes:
    """``result.to_feast_response()`` encoded, without formatting it cell by cell in Python.

    Equal to ``json.dumps(result.to_feast_response())`` (a test holds them together):
    orjson writes the naive-UTC event timestamps itself (``...Z``, microseconds as
    ``isoformat`` writes them); date and datetime *values* are turned into
    ``isoformat`` text first, as ``to_feast_response`` does.
    """
    if not _HAS_ORJSON:  # pragma: no cover - plain json cannot encode datetimes itself
        return _dumps(result.to_feast_response())
    import datetime as _dt

    values = []
    for col in result.values:
        first = next((v for v in col if v is not None), None)
        if isinstance(first, (_dt.date, _dt.datetime)):  # one dtype per feature: the first value tells
            col = [None if v is None else v.isoformat() for v in col]
        values.append(col)
    stamps = [
        [_ZERO_TS if s is None else (s if s.tzinfo is None else s.replace(tzinfo=None)) for s in col]
        for col in result.event_timestamps
    ]
    return orjson.dumps(
        {
            "metadata": {"feature_names": list(result.feature_names)},
            "results": [
                {"values": vals, "statuses": stats, "event_timestamps": ts}
                for vals, stats, ts in zip(values, result.statuses, stamps)
            ],
        },
        option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
    )
