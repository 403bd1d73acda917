"""The HTTP feature server: Feast's feature-server wire format over FastAPI.

``POST /get-online-features`` takes Feast's column-major request (its
``GetOnlineFeaturesRequest`` proto / feature_server.py model)::

    {"features": ["customer_spend_features:txn_count_7d"],
     "entities": {"customer_id": [1, 2]},
     "full_feature_names": false}

and answers with ``GetOnlineFeaturesResponse`` as Feast renders it to JSON
(``metadata.feature_names``: join keys then features; one ``results[i]`` per
name with ``values``, ``statuses`` and ``event_timestamps``), built by
``OnlineFeatures.to_feast_response()``. So a Feast HTTP client works unchanged.

The layer is thin: it parses and checks the request (every bad input is a 4xx
with a message, never a 500), calls ``OnlineClient.get_online_features`` once,
encodes the answer with orjson and hands the response to the feature-log sink.
The body is parsed by hand rather than through a pydantic model: it is faster
and lets each error say what is wrong; the pydantic models below only document
the wire format in the OpenAPI schema.
"""
from __future__ import annotations

import hmac
import os
import uuid
from typing import Any, Dict, List, Optional, Union

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from featurewarehouse.errors import ConfigError, FwError, ServiceUnavailable, redact
from featurewarehouse.refs import did_you_mean
from featurewarehouse.serving.logging import request_ids

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

TOKEN_ENV = "FW_SERVE_TOKEN"
DEFAULT_MAX_ENTITIES = 1000
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
_REQUEST_FIELDS = ("features", "entities", "full_feature_names", "feature_service", "request_context")
_INT64 = (-(2**63), 2**63 - 1)
_MAX_KEY_TEXT = 1024


# ---- OpenAPI documentation of the wire format ----------------------------------
class GetOnlineFeaturesRequest(BaseModel):
    """Feast's column-major request."""

    features: List[str] = Field(
        ..., min_length=1, description="Feature refs `view:feature` or `view:*`.",
        examples=[["customer_spend_features:txn_count_7d"]],
    )
    entities: Dict[str, List[Union[int, str]]] = Field(
        ..., description="Join-key name -> one value per entity row (all lists the same length).",
        examples=[{"customer_id": [1, 2]}],
    )
    full_feature_names: bool = Field(False, description="Name features `view__feature` instead of `feature`.")


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


class RequestError(Exception):
    """A bad request: status code plus message (and how to fix it)."""

    def __init__(self, status: int, detail: str, hint: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.hint = status, detail, hint


def _error(status: int, detail: str, hint: str | None = None, headers: dict | None = None) -> Response:
    body: dict[str, Any] = {"detail": redact(detail)}
    if hint:
        body["hint"] = redact(hint)
    return Response(_dumps(body), status_code=status, media_type="application/json", headers=headers)


# ---- request parsing -----------------------------------------------------------
def parse_request(raw: bytes, *, max_entities: int) -> tuple[list[str], dict[str, list], bool]:
    """Check a request body; return (features, entities, full_feature_names) or raise RequestError."""
    if not raw:
        raise RequestError(400, "the request body is empty", 'send {"features": [...], "entities": {...}}')
    try:
        body = _loads(raw)
    except _DecodeError as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError(422, f"the request body must be a JSON object, not {type(body).__name__}")
    for key in body:
        if key not in _REQUEST_FIELDS:
            raise RequestError(
                422, f"unknown request field {key!r}." + did_you_mean(key, _REQUEST_FIELDS[:3]),
                "the fields are features, entities and full_feature_names",
            )
    if body.get("feature_service") is not None:
        raise RequestError(
            422, "feature services are not supported by this server",
            "list the features instead: \"features\": [\"view:feature\", ...]",
        )
    if body.get("request_context"):
        raise RequestError(422, "request_context is not supported (there are no on-demand feature views)")
    features = body.get("features")
    if not isinstance(features, list) or not features:
        raise RequestError(422, "\"features\" must be a non-empty list of feature refs", "e.g. [\"customer_spend_features:txn_count_7d\"]")
    for f in features:
        if not isinstance(f, str):
            raise RequestError(422, f"feature refs are strings, got {_short(f)}")
    entities = body.get("entities")
    if not isinstance(entities, dict) or not entities:
        raise RequestError(422, "\"entities\" must be a non-empty object: join-key name -> list of values",
                           "e.g. {\"customer_id\": [1, 2]}")
    n_rows = -1
    for name, values in entities.items():
        if not isinstance(values, list):
            raise RequestError(422, f"entities[{name!r}] must be a list of values (column-major), got {_short(values)}")
        if n_rows == -1:
            n_rows = len(values)
        elif len(values) != n_rows:
            raise RequestError(422, f"entities[{name!r}] has {len(values)} values but other join keys have {n_rows}",
                               "every join-key list holds one value per entity row")
        for v in values:
            _check_key_value(name, v)
    if n_rows == 0:
        raise RequestError(422, "the request has no entity rows", "send at least one value per join key")
    if n_rows > max_entities:
        raise RequestError(413, f"the request has {n_rows} entity rows; this server accepts at most {max_entities}",
                           "split the request, or start the server with a larger --max-entities")
    full = body.get("full_feature_names", False)
    if full is None:
        full = False
    if not isinstance(full, bool):
        raise RequestError(422, f"\"full_feature_names\" must be true or false, got {_short(full)}")
    return features, entities, full


def _check_key_value(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise RequestError(422, f"entities[{name!r}] holds {_short(v)}; join-key values are integers or strings")
    if isinstance(v, int) and not _INT64[0] <= v <= _INT64[1]:
        raise RequestError(422, f"entities[{name!r}] holds {v}, outside the 64-bit integer range")
    if isinstance(v, str) and len(v) > _MAX_KEY_TEXT:
        raise RequestError(422, f"entities[{name!r}] holds a string of {len(v)} characters (at most {_MAX_KEY_TEXT})")


def _short(value: Any) -> str:
    text = repr(value)
    kind = "null" if value is None else type(value).__name__
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


# ---- the app ---------------------------------------------------------------------
def create_app(
    client: Any,
    *,
    max_entities: int = DEFAULT_MAX_ENTITIES,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    token: str | None = None,
    log_sink: Any = None,
    threadpool: bool = False,
) -> FastAPI:
    """Build the feature server around an ``OnlineClient``.

    ``token``: when set (default: env ``FW_SERVE_TOKEN``), ``/get-online-features``
    needs ``Authorization: Bearer <token>``. ``log_sink``: a ``FeatureLogSink`` that
    receives every served response (it samples and writes off the request path).
    ``threadpool``: run the online read in Starlette's thread pool instead of on
    the event loop (the read is a sub-millisecond blocking call; on the event loop
    it avoids a thread hop, see bench/serve_http.py).
    """
    from contextlib import asynccontextmanager

    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    expected = f"Bearer {token}".encode() if token else None
    next_request_id = request_ids()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if log_sink is not None:
            log_sink.close()  # acknowledged log entries reach disk before the process ends

    app = FastAPI(
        title="Feature Warehouse feature server",
        description="Online features in Feast's feature-server wire format.",
        version="1",
        lifespan=lifespan,
    )
    app.state.client = client
    app.state.log_sink = log_sink

    def serve(raw: bytes, request_id: str) -> Response:
        try:
            features, entities, full = parse_request(raw, max_entities=max_entities)
            result = client.get_online_features(features, entities, full_feature_names=full)
        except RequestError as exc:
            return _error(exc.status, exc.detail, exc.hint)
        except ServiceUnavailable as exc:
            return _error(503, exc.message, exc.hint)
        except FwError as exc:  # unknown features, wrong key names or types: the caller's to fix
            return _error(422, exc.message, exc.hint)
        payload = feast_json(result)
        if log_sink is not None:
            try:
                log_sink.log(result, client.feature_refs(features, full), request_id=request_id)
            except FwError:
                pass  # never fail a served request because of its log entry
        return Response(payload, media_type="application/json", headers={"x-request-id": request_id})

    responses = {
        200: {"model": GetOnlineFeaturesResponse, "description": "One result per feature name."},
        400: {"model": ErrorBody, "description": "Malformed JSON or an empty body."},
        401: {"model": ErrorBody, "description": "Missing or wrong bearer token (when the server has one)."},
        413: {"model": ErrorBody, "description": "Too many entity rows, or a body that is too large."},
        422: {"model": ErrorBody, "description": "Unknown features, wrong join-key names or types, empty lists."},
        503: {"model": ErrorBody, "description": "The online store cannot be reached."},
    }
    body_schema = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": GetOnlineFeaturesRequest.model_json_schema()}},
        }
    }
    if expected:
        body_schema["security"] = [{"bearer": []}]

    @app.post(
        "/get-online-features",
        summary="Online feature values for entity rows (Feast wire format)",
        responses=responses,
        openapi_extra=body_schema,
        response_class=Response,
    )
    async def get_online_features(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return _error(401, "missing or wrong bearer token", f"send Authorization: Bearer <token> (env {TOKEN_ENV})",
                              headers={"www-authenticate": "Bearer"})
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return _error(413, f"the request body has {length} bytes; the limit is {max_body_bytes}")
        raw = await request.body()
        if len(raw) > max_body_bytes:
            return _error(413, f"the request body has {len(raw)} bytes; the limit is {max_body_bytes}")
        request_id = request.headers.get("x-request-id")
        if not request_id or len(request_id) > 128:
            request_id = next_request_id()
        if threadpool:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(serve, raw, request_id)
        return serve(raw, request_id)

    # The FastAPI route above documents the endpoint (OpenAPI); requests are served by a plain
    # Starlette route in front of it, which skips FastAPI's per-request dependency machinery
    # (about 30 us of the ~130 us the app spends on a 1-entity request; bench/serve_http.py).
    from starlette.routing import Route

    app.router.routes.insert(0, Route("/get-online-features", get_online_features, methods=["POST"]))

    @app.get("/health", summary="Store reachable, registry version", responses={503: {"model": ErrorBody}})
    def health() -> Response:
        return _health(client, log_sink)

    if expected:
        def openapi() -> dict:
            if app.openapi_schema is None:
                from fastapi.openapi.utils import get_openapi

                schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
                schema.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
                app.openapi_schema = schema
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Reached only by a bug: answer with a message instead of dropping the connection.
        return JSONResponse({"detail": redact(f"internal error: {type(exc).__name__}: {exc}")}, status_code=500)

    return app


def _health(client: Any, log_sink: Any) -> Response:
    store = getattr(client, "store", None)
    registry = getattr(client, "registry", None)
    body: dict[str, Any] = {
        "status": "ok",
        "store": redact(getattr(store, "url", "") or ""),
        "registry_version": getattr(registry, "version", "") or "",
        "online_views": sorted(v.name for v in getattr(registry, "online_views", ())),
    }
    try:
        states = store.view_states()
        body["store_epoch"] = store.epoch()
        body["synced_views"] = {
            name: {"registry_version": s.registry_version, "synced_at": s.synced_at} for name, s in sorted(states.items())
        }
    except Exception as exc:  # noqa: BLE001 - any failure here means "unreachable"
        body["status"] = "unavailable"
        body["detail"] = redact(f"the online store cannot be read: {type(exc).__name__}: {exc}")
        return Response(_dumps(body), status_code=503, media_type="application/json")
    if not states:
        # reachable but serving nothing: not ready for traffic
        body["status"] = "empty"
        body["detail"] = "no feature view has been synced to the online store; run `fwctl sync-online`"
        return Response(_dumps(body), status_code=503, media_type="application/json")
    if log_sink is not None:
        s = log_sink.stats()
        body["feature_log"] = {
            "path": str(log_sink.path), "sample_rate": log_sink.sample_rate, "accepted": s.accepted,
            "dropped": s.dropped, "rows_written": s.rows_written, "errors": s.errors,
        }
    return Response(_dumps(body), media_type="application/json")


def app_from_config(
    config: Any,
    *,
    store_url: str | None = None,
    log_to: str | None = None,
    log_sample_rate: float = 1.0,
    max_entities: int = DEFAULT_MAX_ENTITIES,
    token: str | None = None,
) -> FastAPI:
    """The server for a project: its online store and registry, optional logging."""
    from featurewarehouse.serving.client import OnlineClient

    if max_entities < 1:
        raise ConfigError(f"--max-entities must be at least 1, got {max_entities}")
    client = OnlineClient.from_config(config, store_url=store_url)
    sink = None
    if log_to:
        from featurewarehouse.serving.logging import FeatureLogSink

        sink = FeatureLogSink(log_to, sample_rate=log_sample_rate)
    return create_app(client, max_entities=max_entities, token=token, log_sink=sink)


def check_bindable(host: str, port: int) -> None:
    """Fail with a clear message before the server starts when it cannot listen on host:port."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve --host {host!r}: {exc}", hint="use 127.0.0.1, 0.0.0.0 or a local address") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="another process uses the port: pass --port, or stop the other server",
            ) from None


def try_it_lines(
    features: list[str] | None = None,
    entities: dict[str, list] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 6566,
) -> list[str]:
    """How to try the feature server, as lines for ``fwctl demo`` to print.

    >>> try_it_lines(["customer_spend_features:txn_count_7d"], {"customer_id": [1]})[1]
    '  fwctl serve --log                # Feast-format feature server on http://127.0.0.1:6566 (docs: /docs)'
    """
    import json

    body = json.dumps({
        "features": features or ["customer_spend_features:txn_count_7d", "merchant_risk_features:chargeback_rate_90d"],
        "entities": entities or {"customer_id": [1, 2], "merchant_id": [1, 2]},
    })
    base = f"http://{host}:{port}"
    return [
        "Try the feature server:",
        f"  fwctl serve --log                # Feast-format feature server on {base} (docs: /docs)",
        f"  curl -s {base}/get-online-features -d '{body}'",
        "  fwctl skew                       # after some traffic: served values vs point-in-time values",
        "  dbt build -s feature_log+        # logged vectors -> feature_log -> served_training_set",
    ]
