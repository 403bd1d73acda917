"""The Redis store's sync locks (see :mod:`featurewarehouse.online.locks`): a key per view,
``<prefix>:lock:<view>`` (on a Redis Cluster ``<prefix>:lock:{<prefix>:meta}:<view>``,
in the meta hash's slot), holding its owner's JSON, with a TTL; only its owner renews or
deletes it (compare-and-set scripts).

Mixed into :class:`~featurewarehouse.online.redis.RedisOnlineStore`, whose ``client``,
``_call``, ``_scripts``, ``prefix`` and ``url`` it uses; the commit script that checks the
lock lives there.
"""
from __future__ import annotations

from typing import Any

from featurewarehouse.errors import redact

# KEYS: the lock; ARGV: the owner's value, then (renew) the TTL in ms
_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# take over a lock whose holder is known to be gone, only if it is still that holder's
# KEYS: the lock; ARGV: the stale value, the new value, the TTL in ms
_TAKE_OVER_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0
"""
LOCK_SCRIPTS = (("renew", _RENEW_LUA), ("release", _RELEASE_LUA), ("take_over", _TAKE_OVER_LUA))


class RedisLocks:
    prefix: str
    url: str
    cluster: bool
    client: Any
    _locks: dict[str, str]  # view -> the value of the lock this instance holds
    _scripts: dict[str, Any]

    def _lock_key(self, view: str) -> str:
        if self.cluster:
            # tagged with the meta hash's name: the commit script reads both, so both share its slot
            return f"{self.prefix}:lock:{{{self.prefix}:meta}}:{view}"
        return f"{self.prefix}:lock:{view}"

    def acquire_view_lock(self, view: str, owner: Any, ttl: float) -> tuple[bool, Any]:
        from featurewarehouse.online.locks import LockOwner

        key, value, ms = self._lock_key(view), owner.to_json(), max(1, int(ttl * 1000))
        for _ in range(3):  # the holder's key may expire between our SET and GET
            if self._call(self.client.set, key, value, nx=True, px=ms):
                self._locks[view] = value
                return True, None
            held = self._call(self.client.get, key)
            if held is None:
                continue
            holder = LockOwner.from_json(held)
            if held.decode() == value or (holder.is_gone() and self._call(self._scripts["take_over"], [key], [held, value, ms])):
                self._locks[view] = value
                return True, None
            return False, holder
        return False, None

    def renew_view_lock(self, view: str, owner: Any, ttl: float) -> bool:
        return bool(self._call(self._scripts["renew"], [self._lock_key(view)], [owner.to_json(), max(1, int(ttl * 1000))]))

    def release_view_lock(self, view: str, owner: Any) -> None:
        self._locks.pop(view, None)
        self._call(self._scripts["release"], [self._lock_key(view)], [owner.to_json()])

    def _check_lock(self, view: str) -> None:
        value = self._locks.get(view)
        if value is not None and self._call(self.client.get, self._lock_key(view)) != value.encode():
            from featurewarehouse.online.locks import LockLost

            raise LockLost(
                f"the sync of feature view {view!r} no longer holds its lock in {redact(self.url)}; nothing was committed",
                hint="another sync took it after it expired (this one paused longer than its TTL): rerun `fwctl sync-online`",
            )

