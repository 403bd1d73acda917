"""Several server processes on one port (``fwctl serve --workers N``).

One Python process serves on one core (the GIL), so N workers use N cores. The
parent binds one listening socket per worker with ``SO_REUSEPORT`` (the kernel
spreads new connections over them by their addresses), all before any worker
starts, then forks the workers: each builds its own app (its own online-store
connections and its own feature-log sink, whose files carry its pid) and serves
its socket with the same limits as a single server.

uvicorn's own ``workers`` option re-imports the app by name in spawned processes;
the connection guard of :mod:`featurewarehouse.serving.limits` is a class built at
run time, which does not travel that way, and forking after the checks keeps the
configuration and errors in one place (the parent).

Shutdown: SIGTERM or SIGINT to the parent is passed on once to every worker, which
finishes its requests and closes its log sink (everything it accepted reaches
disk); the parent waits for all of them. Workers run in their own process group so
a terminal's Ctrl-C reaches them only through the parent (twice would be uvicorn's
"force exit", which skips the log flush). When one worker dies, the others are
stopped the same way and the parent reports it.
"""
from __future__ import annotations

import os
import signal
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable

from featurewarehouse.errors import ConfigError, FwError
from featurewarehouse.serving.limits import ServerLimits

# after the graceful timeout, how long a worker gets to publish its feature log
LOG_FLUSH_SECONDS = 60.0


@dataclass(frozen=True)
class WorkerExit:
    pid: int
    exitcode: int | None  # negative: killed by that signal


class WorkersFailed(FwError):
    """A worker exited on its own or uncleanly: the server is not what was started (exit 3)."""

    exit_code = 3


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port that other sockets of this user may share (``SO_REUSEPORT``)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError("--workers needs SO_REUSEPORT, which this platform lacks", hint="run with --workers 1")
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                          hint="another process uses the port: pass --port, or stop the other server") from None
    return sock


def run_workers(make_app: Callable[[], Any], *, host: str, port: int, limits: ServerLimits, workers: int) -> None:
    """Serve ``make_app()`` in ``workers`` forked processes until SIGTERM/SIGINT.

    Raises :class:`WorkersFailed` when a worker stopped before it was asked to, or did not exit cleanly.
    """
    import multiprocessing

    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    sockets = [reuseport_socket(host, port) for _ in range(workers)]
    ctx = multiprocessing.get_context("fork")
    procs = []
    try:
        for sock in sockets:
            proc = ctx.Process(target=_worker, args=(make_app, sock, sockets, limits), daemon=False)
            proc.start()
            procs.append(proc)
    finally:
        for sock in sockets:  # the workers hold their own copies
            sock.close()

    stop = threading.Event()
    asked = False
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.is_set() and all(p.is_alive() for p in procs):
            stop.wait(0.2)
        asked = stop.is_set()
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        for p in procs:
            p.join(limits.graceful_shutdown_timeout + LOG_FLUSH_SECONDS)
            if p.is_alive():
                p.kill()
                p.join(5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # uvicorn re-raises the signal it shut down on, once it has shut down: -SIGTERM is a clean exit
    failed = [WorkerExit(p.pid, p.exitcode) for p in procs if p.exitcode not in (0, -signal.SIGTERM)]
    if failed or not asked:
        raise WorkersFailed(
            "; ".join(f"worker {w.pid} exited with {w.exitcode}" for w in failed) or "a worker stopped on its own",
            hint="see the worker's messages above; the other workers were stopped")


def _worker(make_app: Callable[[], Any], sock: socket.socket, sockets: list[socket.socket], limits: ServerLimits) -> None:
    os.setpgid(0, 0)  # signals come from the parent only (see the module docstring)
    for other in sockets:
        if other is not sock:
            other.close()
    from featurewarehouse.serving.limits import serve_socket

    serve_socket(make_app(), sock, limits=limits)
