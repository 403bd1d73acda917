"""The SQLite store's sync locks (see :mod:`featurewarehouse.online.locks`): a row per view in
``fw_locks``, and the one-writer-per-file rule turned into errors that name the sync writing.

Mixed into :class:`~featurewarehouse.online.sqlite.SqliteOnlineStore`, whose ``_write_con``,
``_rollback``, ``path`` and ``lock_timeout`` it uses.
"""
from __future__ import annotations

import sqlite3
import time
from typing import Any

from featurewarehouse.errors import ServiceUnavailable

# one row per view a sync holds: (view, owner JSON, expires_at as epoch seconds)
_LOCKS = "fw_locks"
# how long one statement waits for another connection's write lock. Short: a sync waiting for
# another sync waits in its own loop (--lock-timeout) and then names that sync
BUSY_TIMEOUT_SECONDS = 1.0


def _is_busy(exc: sqlite3.Error) -> bool:
    """Another connection holds the write lock (SQLITE_BUSY / SQLITE_LOCKED)."""
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "database is locked" in str(exc)
    )


class SqliteLocks:
    path: str
    lock_timeout: float
    _locks: dict[str, str]  # view -> the owner JSON of the lock this instance holds

    def _lock_holder(self, view: str) -> Any:
        """Who holds ``view``'s lock, else the newest other lock (its sync holds the one writer),
        else None. Expired rows count: the renewer cannot renew while its sync's transaction
        holds the writer, which is exactly when this is asked. Rows of processes known gone do
        not. Read on a read-only connection: WAL readers are never blocked by the writer."""
        from featurewarehouse.online.locks import LockOwner

        try:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
            try:
                rows = con.execute(
                    f"select view, owner from {_LOCKS} order by view = ? desc, expires_at desc", (view,)
                ).fetchall()
            finally:
                con.close()
        except sqlite3.Error:
            return None
        holders = [LockOwner.from_json(owner).of_view(name) for name, owner in rows]
        return next((o for o in holders if not o.is_gone()), None)

    def _writer_busy(self, view: str, waited: float) -> Exception:
        from featurewarehouse.online.locks import refused

        return refused(view or "(any)", self, self._lock_holder(view), waited + BUSY_TIMEOUT_SECONDS)

    def _begin_immediate(self, view: str) -> sqlite3.Connection:
        """Start the write transaction, waiting up to :attr:`lock_timeout` for another writer."""
        con = self._write_con()
        started = time.monotonic()
        while True:
            try:
                con.execute("begin immediate")
                return con
            except sqlite3.OperationalError as exc:
                waited = time.monotonic() - started
                if not _is_busy(exc) or waited >= self.lock_timeout:
                    if _is_busy(exc):
                        raise self._writer_busy(view, waited) from exc
                    raise ServiceUnavailable(f"cannot write to the SQLite online store {self.path}: {exc}") from exc

    # ---- sync locks ---------------------------------------------------------
    def acquire_view_lock(self, view: str, owner: Any, ttl: float) -> tuple[bool, Any]:
        from featurewarehouse.online.locks import LockOwner

        con = self._write_con()
        mine = owner.to_json()
        try:
            con.execute("begin immediate")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                return False, self._lock_holder(view)
            raise ServiceUnavailable(f"cannot write to the SQLite online store {self.path}: {exc}") from exc
        try:
            row = con.execute(f"select owner, expires_at from {_LOCKS} where view = ?", (view,)).fetchone()
            if row and row[0] != mine and row[1] > time.time() and not LockOwner.from_json(row[0]).is_gone():
                con.execute("rollback")
                return False, LockOwner.from_json(row[0]).of_view(view)
            con.execute(
                f"insert into {_LOCKS} values (?, ?, ?) on conflict (view) do update set "
                "owner = excluded.owner, expires_at = excluded.expires_at",
                (view, mine, time.time() + ttl),
            )
            con.execute("commit")
        except sqlite3.Error as exc:
            self._rollback()
            raise ServiceUnavailable(f"cannot take the sync lock of {view!r} in the SQLite online store {self.path}: {exc}") from exc
        self._locks[view] = mine
        return True, None

    def renew_view_lock(self, view: str, owner: Any, ttl: float) -> bool:
        # its own connection: the renewer runs in another thread than the sync's transaction
        con = sqlite3.connect(self.path, isolation_level=None, timeout=0.1)
        try:
            mine = owner.to_json()
            try:
                changed = con.execute(
                    f"update {_LOCKS} set expires_at = ? where view = ? and owner = ?", (time.time() + ttl, view, mine)
                ).rowcount
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):  # our own view transaction (or another writer): nobody can take it now
                    return True
                raise
            return changed == 1
        finally:
            con.close()

    def release_view_lock(self, view: str, owner: Any) -> None:
        self._locks.pop(view, None)
        con = self._write_con()
        if con.in_transaction:
            return  # a failed sync's transaction is rolled back by abort_view first; never commit it here
        started = time.monotonic()
        while True:
            try:
                con.execute(f"delete from {_LOCKS} where view = ? and owner = ?", (view, owner.to_json()))
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() - started > 10 * BUSY_TIMEOUT_SECONDS:
                    raise  # the lock then expires by itself

    def _fence(self, con: sqlite3.Connection, view: str) -> None:
        """Inside the write transaction: this instance still holds ``view``'s lock (if it took one).
        Nobody can take it from then until the transaction ends, so the commit of the same
        transaction needs no second check (nor one of the view's generation, read here too)."""
        mine = self._locks.get(view)
        if mine is None:
            return
        row = con.execute(f"select owner from {_LOCKS} where view = ?", (view,)).fetchone()
        if row is None or row[0] != mine:
            from featurewarehouse.online.locks import LockLost

            con.execute("rollback")
            raise LockLost(
                f"the sync of feature view {view!r} no longer holds its lock in {self.path}; nothing was written",
                hint="another sync took it after it expired (this one paused longer than its TTL): rerun `fwctl sync-online`",
            )
