"""One sync per view per store at a time: a lock held in the store itself.

A sync takes the lock of a view before it reads the view's state and releases it
after the view's commit. The lock names its owner (a random token, host, pid,
start time) so a second sync can say who holds it, and it expires ``ttl``
seconds after its last renewal so a crashed sync's lock frees itself. While the
sync runs, a renewer thread extends it every ``ttl / 3`` seconds.

The stores keep the lock (see :meth:`OnlineStore.acquire_view_lock`) and fence
their writes with it: Redis checks the token in the same script that switches a
view's generation at commit; SQLite checks it inside the write transaction that
spans the whole view. A sync that lost its lock (paused longer than ``ttl``)
therefore fails loudly instead of committing over another sync's work.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterator

from featurewarehouse.errors import FwError

# how long a lock outlives its last renewal: the time a crashed sync blocks the view
DEFAULT_LOCK_TTL_SECONDS = 60.0
# how long a sync waits for another sync of the same view (--lock-timeout): not at all
DEFAULT_LOCK_TIMEOUT_SECONDS = 0.0
_POLL_SECONDS = 0.25


class SyncLocked(FwError):
    """Another sync holds the view's lock: the sync was refused (exit 1)."""

    exit_code = 1


class LockLost(FwError):
    """This sync lost its exclusive hold on a view (its lock expired and another sync took it,
    or another sync committed the view meanwhile): this run's commit was refused (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class LockOwner:
    """Who holds a view's lock. ``token`` is unique per sync; the rest is for messages."""

    token: str
    host: str
    pid: int
    started_at: str  # ISO, UTC
    command: str = "fwctl sync-online"
    # the view whose lock this is, when a store reports the holder of another view's lock
    # (SQLite: one writer per file); not stored
    view: str = field(default="", compare=False)

    @classmethod
    def mine(cls, command: str = "fwctl sync-online") -> "LockOwner":
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0, tzinfo=None)
        return cls(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now.isoformat() + "Z", command)

    def to_json(self) -> str:
        d = asdict(self)
        d.pop("view")
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "LockOwner":
        try:
            d = json.loads(text)
            return cls(str(d["token"]), str(d["host"]), int(d["pid"]), str(d["started_at"]), str(d.get("command", "")))
        except (ValueError, KeyError, TypeError):
            return cls(str(text), "unknown host", 0, "unknown time", "an unknown writer")

    def describe(self) -> str:
        return f"`{self.command}` on host {self.host} (pid {self.pid}), started {self.started_at}"

    def of_view(self, view: str) -> "LockOwner":
        return replace(self, view=view)

    def is_gone(self) -> bool:
        """True when the holder ran on this host and its process no longer exists: its lock is
        stale at once, without waiting for the TTL (a rerun after a crash or kill)."""
        if self.host != socket.gethostname() or self.pid <= 0 or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # exists, owned by another user
            return False
        return False


def refused(view: str, store: Any, holder: LockOwner | None, waited: float, ttl: float = DEFAULT_LOCK_TTL_SECONDS) -> SyncLocked:
    """The error of a sync that could not take ``view``'s lock (or, on SQLite, the store's writer)."""
    if holder is None:  # SQLite: its single writer is busy, with no sync lock recorded
        who = "another process is writing to the store (it holds SQLite's write lock)"
    elif holder.view and holder.view != view:
        who = (f"the store's one writer is busy with the sync of feature view {holder.view!r}: "
               f"{holder.describe()} (SQLite lets one process write at a time)")
    else:
        who = f"another sync holds its lock: {holder.describe()}"
    return SyncLocked(
        f"feature view {view!r} cannot be synced now: {who}; waited {waited:.0f}s",
        where=repr(store),
        hint=(
            "let that sync finish, or rerun with --lock-timeout SECONDS to wait for it; "
            f"if that process is gone, its lock expires by itself {ttl:.0f}s after its last renewal"
        ),
    )


class ViewLock:
    """A held lock, renewed in the background until :meth:`release`."""

    def __init__(self, store: Any, view: str, owner: LockOwner, ttl: float):
        self.store, self.view, self.owner, self.ttl = store, view, owner, ttl
        self._stop = threading.Event()
        self._lost: str | None = None
        self._thread = threading.Thread(target=self._renew_loop, name=f"fw-lock-{view}", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.ttl / 3):
            try:
                still_ours = self.store.renew_view_lock(self.view, self.owner, self.ttl)
            except Exception as exc:  # the store is away: the writes will fail on their own
                if time.monotonic() - last_ok > self.ttl:
                    self._lost = f"it could not be renewed for {self.ttl:.0f}s ({exc})"
                continue
            if not still_ours:
                self._lost = "it expired and another sync took it"
                return
            last_ok = time.monotonic()

    def check(self) -> None:
        """Raise :class:`LockLost` when the renewer found the lock gone (called between batches)."""
        if self._lost is not None:
            raise LockLost(
                f"the sync of feature view {self.view!r} lost its lock: {self._lost}; nothing of this run was committed",
                where=repr(self.store),
                hint="a sync paused longer than the lock's TTL: rerun `fwctl sync-online` (raise FW_SYNC_LOCK_TTL if pauses are expected)",
            )

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):  # an unreleased lock expires by itself
            self.store.release_view_lock(self.view, self.owner)


@contextlib.contextmanager
def view_lock(
    store: Any,
    view: str,
    *,
    owner: LockOwner | None = None,
    timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    ttl: float = DEFAULT_LOCK_TTL_SECONDS,
) -> Iterator[ViewLock]:
    """Hold ``view``'s lock in ``store`` for the block; wait up to ``timeout`` seconds for it.

    Raises :class:`SyncLocked`, naming the holder, when it is still held after ``timeout``.
    """
    owner = owner or LockOwner.mine()
    started = time.monotonic()
    while True:
        acquired, holder = store.acquire_view_lock(view, owner, ttl)
        if acquired:
            break
        waited = time.monotonic() - started
        if waited >= timeout:
            raise refused(view, store, holder, waited, ttl)
        time.sleep(min(_POLL_SECONDS, max(0.0, timeout - waited)))
    lock = ViewLock(store, view, owner, ttl)
    try:
        yield lock
    finally:
        lock.release()


def ttl_from_env() -> float:
    """``FW_SYNC_LOCK_TTL`` (seconds), else the default."""
    raw = os.environ.get("FW_SYNC_LOCK_TTL", "")
    if not raw:
        return DEFAULT_LOCK_TTL_SECONDS
    try:
        ttl = float(raw)
    except ValueError:
        ttl = -1.0
    if ttl < 1:
        from featurewarehouse.errors import ConfigError

        raise ConfigError(f"bad FW_SYNC_LOCK_TTL {raw!r}", hint="set it to a number of seconds >= 1, e.g. 60")
    return ttl
