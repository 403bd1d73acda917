"""The HTTP feature server: Feast's feature-server wire format over FastAPI.

``POST /get-online-features`` takes Feast's column-major request (its
``GetOnlineFeaturesRequest`` proto / feature_server.py model)::

    {"features": ["customer_spend_features:txn_count_7d"],
     "entities": {"customer_id": [1, 2]},
     "full_feature_names": false}

and answers with ``GetOnlineFeaturesResponse`` as Feast renders it to JSON
(``metadata.feature_names``: join keys then features; one ``results[i]`` per
name with ``values``, ``statuses`` and ``event_timestamps``), exactly what
``OnlineFeatures.to_feast_response()`` holds. So a Feast HTTP client works unchanged.

The layer is thin: it parses and checks the request (every bad input is a 4xx
with a message, never a 500), calls ``OnlineClient.get_online_features`` once,
encodes the answer with orjson and hands the response to the feature-log sink.
The body is parsed by hand (:mod:`featurewarehouse.serving.wire`) rather than
through a pydantic model: it is faster and lets each error say what is wrong;
the pydantic models there only document the wire format in the OpenAPI schema.
"""
from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from featurewarehouse.errors import ConfigError, FwError, ServiceUnavailable, redact, redact_url
from featurewarehouse.serving.auth import TOKEN_ENV, Denied, TokenSet
from featurewarehouse.serving.limits import ServerLimits
from featurewarehouse.serving.logging import request_ids
from featurewarehouse.serving.wire import (  # noqa: F401  (parse_request, feast_json, _dumps: the wire API)
    FEAST_ERROR_SCHEMA,
    ErrorBody,
    GetOnlineFeaturesRequest,
    GetOnlineFeaturesResponse,
    RequestError,
    _dumps,
    error_body,
    feast_json,
    parse_request,
    request_schema,
)

DEFAULT_MAX_ENTITIES = 1000
DEFAULT_MAX_BODY_BYTES = ServerLimits.max_body_bytes


def _error(status: int, detail: str, hint: str | None = None, headers: dict | None = None,
           feast_class: str = "FeastError") -> Response:
    body = error_body(redact(detail), redact(hint) if hint else None, feast_class)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _too_large(detail: str) -> Response:
    # connection: close, so the server stops reading the rest of the body instead of draining it
    return _error(413, detail, "send a smaller request, or start the server with a larger --max-body-bytes",
                  headers={"connection": "close"})


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, read as it arrives (chunked included); None as soon as it passes ``limit`` bytes.

    Never buffers more than ``limit`` plus one chunk: the rest is not read at all.
    """
    from starlette.requests import ClientDisconnect

    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except ClientDisconnect:
        return b""  # nobody is left to answer; the empty body gets a 400 no one reads
    return b"".join(chunks)


def create_app(
    client: Any,
    *,
    max_entities: int = DEFAULT_MAX_ENTITIES,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    token: str | None = None,
    tokens: TokenSet | None = None,
    log_sink: Any = None,
    threadpool: bool = False,
) -> FastAPI:
    """Build the feature server around an ``OnlineClient``.

    ``tokens``: the bearer tokens ``/get-online-features`` accepts, each scoped to
    services and views (:mod:`featurewarehouse.serving.auth`); ``token``: one secret
    that reads everything (default: env ``FW_SERVE_TOKEN``; ``""``: none). ``log_sink``: a ``FeatureLogSink`` that
    receives every served response (it samples and writes off the request path).
    ``threadpool``: run the online read in Starlette's thread pool instead of on
    the event loop (the read is a sub-millisecond blocking call; on the event loop
    it avoids a thread hop, see bench/serve_http.py).
    """
    from contextlib import asynccontextmanager

    if tokens is None:
        if token is None:
            token = os.environ.get(TOKEN_ENV) or None
        tokens = TokenSet.from_secret(token) if token else None
    expected = tokens is not None
    next_request_id = request_ids()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        import gc

        # Everything allocated at startup (FastAPI, pydantic, pyarrow) lives as long as the server:
        # move it out of the collector's reach, so full collections stay short (tail latency).
        gc.collect()
        gc.freeze()
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

    def serve(raw: bytes, request_id: str, caller: Any) -> Response:
        service = None
        try:
            features, entities, full, service_name = parse_request(raw, max_entities=max_entities)
            if service_name is not None:
                try:
                    service = client.service(service_name)
                except FwError as exc:
                    return _error(422, exc.message, exc.hint, feast_class="FeatureServiceNotFoundException")
                features = service.features
            if caller is not None:
                tokens.authorize(caller, features, service_name)
            result = client.get_online_features(features, entities, full_feature_names=full)
        except Denied as exc:
            return _error(exc.status, exc.detail, exc.hint, feast_class="FeastPermissionError")
        except RequestError as exc:
            return _error(exc.status, exc.detail, exc.hint, feast_class=exc.feast_class)
        except ServiceUnavailable as exc:
            return _error(503, exc.message, exc.hint)
        except FwError as exc:  # unknown features, wrong key names or types: the caller's to fix
            return _error(422, exc.message, exc.hint)
        payload = feast_json(result)
        if log_sink is not None and (service is None or service.logging.get("enabled", True)):
            try:
                # the encoded bytes: one object, cheap to hold and forward, converted in bulk off the request path
                if service is None:
                    log_sink.log(result, result.feature_refs, request_id=request_id, payload=payload)
                else:  # the service's own sample rate; its name goes into every logged row
                    log_sink.log(result, result.feature_refs, request_id=request_id, payload=payload,
                                 feature_service=service.name, sample_rate=service.logging.get("sample_rate"))
            except FwError:
                pass  # never fail a served request because of its log entry
        return Response(payload, media_type="application/json", headers={"x-request-id": request_id})

    def feast_error(description: str) -> dict:
        return {"description": description, "content": {"application/json": {"schema": FEAST_ERROR_SCHEMA}}}

    responses = {
        200: {"model": GetOnlineFeaturesResponse, "description": "One result per feature name."},
        400: feast_error("Malformed JSON or an empty body."),
        401: feast_error("Missing or wrong bearer token (when the server has tokens)."),
        403: feast_error("The token may not read the feature service or views asked for."),
        413: feast_error("Too many entity rows, or a body that is too large."),
        422: feast_error("Unknown features, wrong join-key names or types, empty lists."),
        500: feast_error("A bug in the server (never bad input)."),
        503: feast_error("The online store cannot be reached."),
    }
    body_schema = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": request_schema(max_entities)}},
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
        caller = None
        if expected:
            try:
                caller = tokens.authenticate(request.headers.get("authorization", ""))
            except Denied as exc:
                return _error(exc.status, exc.detail, exc.hint, headers={"www-authenticate": "Bearer"},
                              feast_class="FeastPermissionError")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return _too_large(f"the request body has {length} bytes; the limit is {max_body_bytes}")
        raw = await _read_body(request, max_body_bytes)
        if raw is None:
            return _too_large(f"the request body is over the limit of {max_body_bytes} bytes")
        request_id = request.headers.get("x-request-id")
        if not request_id or len(request_id) > 128:
            request_id = next_request_id()
        if threadpool:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(serve, raw, request_id, caller)
        return serve(raw, request_id, caller)

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
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Reached only by a bug: answer with a message instead of dropping the connection.
        return Response(error_body(redact(f"internal error: {type(exc).__name__}: {exc}")), status_code=500,
                        media_type="application/json")

    return app


def _health(client: Any, log_sink: Any) -> Response:
    store = getattr(client, "store", None)
    registry = getattr(client, "registry", None)
    body: dict[str, Any] = {
        "status": "ok",
        "store": redact_url(getattr(store, "url", "") or ""),
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
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    token: str | None = None,
    tokens: TokenSet | None = None,
) -> FastAPI:
    """The server for a project: its online store and registry, optional logging and tokens."""
    from featurewarehouse.serving.client import OnlineClient

    if max_entities < 1:
        raise ConfigError(f"--max-entities must be at least 1, got {max_entities}")
    client = OnlineClient.from_config(config, store_url=store_url)
    sink = None
    if log_to:
        from featurewarehouse.serving.logging import FeatureLogSink

        # conversion and Parquet writing in a child process: off the server's GIL
        sink = FeatureLogSink(log_to, sample_rate=log_sample_rate, converter="process")
    return create_app(client, max_entities=max_entities, max_body_bytes=max_body_bytes, token=token, tokens=tokens,
                      log_sink=sink)


def check_app_config(config: Any, *, store_url: str | None, log_to: str | None, max_entities: int) -> None:
    """What :func:`app_from_config` would refuse, checked without building the app (and its log writer)."""
    from pathlib import Path

    from featurewarehouse.serving.client import OnlineClient

    if max_entities < 1:
        raise ConfigError(f"--max-entities must be at least 1, got {max_entities}")
    OnlineClient.from_config(config, store_url=store_url).close()
    if log_to:
        try:
            Path(log_to).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the feature log directory {log_to}: {exc}") from exc


def tune_gc_for_serving() -> None:
    """For a process that only serves: collect young objects 70x less often.

    With logging on, responses wait for the log writer for up to a second, so they
    survive young collections and make older ones expensive; measured on a 1-entity
    request this moves GC from ~7 us to ~2.5 us per request. Called by `fwctl serve`
    (which owns its process), not by create_app (which may be embedded).
    """
    import gc

    gc.set_threshold(50_000, 50, 100)


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
