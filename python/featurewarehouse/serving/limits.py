"""What one client may cost the feature server: timeouts, sizes and a connection cap (issue 20).

uvicorn has settings for some of this (``timeout_keep_alive``,
``timeout_graceful_shutdown``; ``h11_max_incomplete_event_size`` for the h11
parser only) and none for the rest: it waits forever for the headers or the
body of a request (slowloris), does not bound the header size with httptools,
and its ``limit_concurrency`` answers 503 to *every* new request once idle
connections fill the cap, so half-sent requests would still lock normal
clients out. :func:`guarded_protocol` adds these on uvicorn's httptools
protocol, per connection, without touching the request path:

- the request headers must arrive within ``header_timeout`` of the connection
  opening or the request's first byte, and hold at most ``max_header_bytes``;
- the body must arrive within ``body_timeout`` of the headers;
- at most ``max_connections`` are open: a new connection beyond the cap closes
  the connection that has waited longest for its request headers (a slow or
  idle one), so hostile connections cannot lock new clients out; when every
  connection is busy with a request, the new one gets 503.

The body size limit is the app's (``create_app(max_body_bytes=...)``), which reads
the body as a stream and answers 413 as soon as it is exceeded.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from featurewarehouse.errors import ConfigError

# Descriptors kept for what is not a client connection: the listening socket, the store,
# log files, the log writer's pipes, imports.
FD_RESERVE = 64


@dataclass(frozen=True)
class ServerLimits:
    """The feature server's limits; the defaults are `fwctl serve`'s (docs/operations.md)."""

    max_body_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 20.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 1000
    graceful_shutdown_timeout: float = 10.0

    def check(self) -> "ServerLimits":
        """Refuse values that cannot work, naming the flag."""
        for flag, value, low in (
            ("--max-body-bytes", self.max_body_bytes, 1024),
            ("--max-header-bytes", self.max_header_bytes, 1024),
            ("--header-timeout", self.header_timeout, 0.1),
            ("--body-timeout", self.body_timeout, 0.1),
            ("--keep-alive-timeout", self.keep_alive_timeout, 0.1),
            ("--max-connections", self.max_connections, 1),
            ("--graceful-shutdown-timeout", self.graceful_shutdown_timeout, 0),
        ):
            if value < low:
                raise ConfigError(f"{flag} must be at least {low}, got {value}")
        return self


def descriptor_limit() -> int | None:
    """The process's soft limit on open files (None where there is none to read)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover - not on Linux/macOS
        return None
    return None if soft == resource.RLIM_INFINITY else soft


def effective_max_connections(requested: int, fd_limit: int | None = None) -> int:
    """``requested``, lowered to leave ``FD_RESERVE`` descriptors free, so accepting never fails with EMFILE.

    >>> effective_max_connections(1000, 256)
    192
    >>> effective_max_connections(100, 1024)
    100
    """
    limit = descriptor_limit() if fd_limit is None else fd_limit
    if limit is None:
        return requested
    return max(1, min(requested, limit - FD_RESERVE))


def _raw_response(status: int, reason: str, message: str) -> bytes:
    body = message.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


def guarded_protocol(limits: ServerLimits, max_connections: int | None = None) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with header/body timeouts, a header size cap and a connection cap.

    A request only stores its deadline (a float); one sweep per event loop, every
    ``_sweep_every`` seconds, closes the connections past theirs. A timer per request
    would cost a TimerHandle and a heap push and cancel twice per request.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    cap = max_connections if max_connections is not None else effective_max_connections(limits.max_connections)
    header_timeout, body_timeout, max_header = limits.header_timeout, limits.body_timeout, limits.max_header_bytes
    sweep_every = max(0.05, min(1.0, header_timeout / 4, body_timeout / 4))
    swept_loops: set[int] = set()  # loops whose sweep runs (one per worker process)

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        # the per-connection guard state (class attributes: uvicorn's __init__ stays untouched)
        _fw_deadline: float | None = None  # when the headers or body being awaited are late
        _fw_awaiting_headers = True  # idle, or receiving a request's headers: may be evicted
        _fw_since = 0.0  # when it started waiting for request headers
        _fw_header_bytes = 0

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._fw_since = now = self.loop.time()
            self._fw_deadline = now + header_timeout  # a connection that never sends a byte is closed too
            if id(self.loop) not in swept_loops:
                swept_loops.add(id(self.loop))
                self.loop.call_later(sweep_every, _sweep, self.loop, self.connections)
            if len(self.connections) > cap:
                self._fw_make_room()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._fw_awaiting_headers and self.parser is not None and not self.transport.is_closing():
                self._fw_header_bytes += len(data)
                if self._fw_header_bytes > max_header:
                    self._fw_refuse(431, "Request Header Fields Too Large",
                                    f"request headers over {max_header} bytes (fwctl serve --max-header-bytes)")

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._fw_awaiting_headers = True
            self._fw_header_bytes = 0
            if self._fw_deadline is None:  # the first byte after an idle keep-alive: headers must follow in time
                self._fw_deadline = self.loop.time() + header_timeout

        def on_headers_complete(self) -> None:
            self._fw_awaiting_headers = False
            self._fw_deadline = self.loop.time() + body_timeout
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._fw_deadline = None
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():  # idle until the next request (uvicorn's keep-alive timeout runs)
                self._fw_awaiting_headers = True
                self._fw_since = self.loop.time()

        # ---- the guard -------------------------------------------------------------
        def _fw_expired(self) -> None:
            self._fw_deadline = None
            what = "headers" if self._fw_awaiting_headers else "body"
            flag = "--header-timeout" if self._fw_awaiting_headers else "--body-timeout"
            seconds = header_timeout if self._fw_awaiting_headers else body_timeout
            self._fw_refuse(408, "Request Timeout", f"the request {what} did not arrive within {seconds:g} s (fwctl serve {flag})")

        def _fw_refuse(self, status: int, reason: str, message: str) -> None:
            if self.transport.is_closing():
                return
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(_raw_response(status, reason, message))
            if self.cycle is not None:
                # what uvicorn does when a client goes: the app's reads end, its writes are dropped
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self.transport.close()

        def _fw_make_room(self) -> None:
            waiting = [c for c in self.connections if c is not self and getattr(c, "_fw_awaiting_headers", False)]
            if waiting:
                oldest = min(waiting, key=lambda c: c._fw_since)
                oldest._fw_refuse(503, "Service Unavailable", f"too many connections (fwctl serve --max-connections {cap})")
            else:
                self._fw_refuse(503, "Service Unavailable", f"too many connections (fwctl serve --max-connections {cap})")

    def _sweep(loop: asyncio.AbstractEventLoop, connections: set) -> None:
        now = loop.time()
        for conn in [c for c in connections if (getattr(c, "_fw_deadline", None) or now + 1) < now]:
            conn._fw_expired()
        if not loop.is_closed():
            loop.call_later(sweep_every, _sweep, loop, connections)

    return GuardedHttpToolsProtocol


def uvicorn_settings(limits: ServerLimits) -> dict[str, Any]:
    """The uvicorn.run() keyword arguments that carry ``limits``."""
    return {
        "http": guarded_protocol(limits),
        "timeout_keep_alive": limits.keep_alive_timeout,
        "timeout_graceful_shutdown": limits.graceful_shutdown_timeout,
        # the h11 parser's header cap (unused with httptools, where the guard counts the bytes)
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }


def run(app: Any, *, host: str, port: int, limits: ServerLimits) -> None:
    """Serve ``app`` with uvicorn under ``limits`` until SIGINT/SIGTERM (graceful, bounded by its timeout)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, **uvicorn_settings(limits))


def serve_socket(app: Any, sock: Any, *, limits: ServerLimits) -> None:
    """Serve ``app`` on an already listening socket (a worker of ``fwctl serve --workers``) under ``limits``."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, **uvicorn_settings(limits))
    uvicorn.Server(config).run(sockets=[sock])
