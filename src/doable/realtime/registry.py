"""What the processes serving sockets must agree on: the open sockets of each user (to
send them events, to drop them when their login is revoked, and to cap how many they
hold).

With ``REDIS_URL`` they live in Redis, so any process can find a socket held by any
other; without it there is one process and they live in its memory. Nothing here needs
to outlive a restart: an event's ``seq`` is its position in the user's feed, which the
database holds (``doable.changes``), so losing Redis loses no event a client cannot
read back.

A process that dies without closing its sockets (SIGKILL, out of memory) leaves their
entries behind in Redis. So that they do not count against the user's cap for ever,
each process vouches for the sockets it holds every ``DOABLE_REALTIME_SESSION_CHECK``
seconds (``touch``); an entry nobody vouched for in three of those is dropped when the
user's sockets are next counted.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

import redis

#: How long a user's socket list outlives its last connection, in case a process dies
#: without cleaning up (a stale entry only costs a disconnect of a sid that is gone).
SOCKETS_TTL = 7 * 24 * 3600

#: Forget sockets ARGV[2..] of user ARGV[1] (KEYS: their sockets, their seen times, the
#: users holding any), and the user too when it was their last: in one step, so a socket
#: the user opens meanwhile never finds itself forgotten.
_FORGET = """
redis.call('HDEL', KEYS[1], unpack(ARGV, 2))
redis.call('ZREM', KEYS[2], unpack(ARGV, 2))
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
end
"""


class Registry(Protocol):
    def add(self, user_id: int, sid: str, session_id: str) -> None: ...

    def remove(self, user_id: int, sid: str) -> None:
        """Forget a closed socket. Events are sent to open sockets only: what happens
        before the user connects again, they read from their feed when they do."""
        ...

    def sockets(self, user_id: int) -> dict[str, str]:
        """The user's open sockets: socket id -> login session id."""
        ...

    def count(self, user_id: int) -> int:
        """How many sockets the user holds, in every process (stale entries dropped)."""
        ...

    def touch(self, user_id: int, sockets: Mapping[str, str]) -> None:
        """This process still holds these sockets of the user (socket id -> login
        session id): each is vouched for, and put back if Redis lost it (restarted
        empty, or flushed), so events reach it again. The caller never names a socket
        it has closed (``LocalSockets.vouch`` holds its lock across this call)."""
        ...

    def connected(self, user_ids: Iterable[int]) -> set[int]:
        """Which of these users hold a socket, in any process (one round trip)."""
        ...

    def anyone_connected(self) -> bool:
        """Whether any user holds a socket, in any process (one round trip)."""
        ...


class LocalRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: dict[int, dict[str, str]] = defaultdict(dict)

    def add(self, user_id: int, sid: str, session_id: str) -> None:
        with self._lock:
            self._sockets[user_id][sid] = session_id

    def remove(self, user_id: int, sid: str) -> None:
        with self._lock:
            self._sockets[user_id].pop(sid, None)
            if not self._sockets[user_id]:
                del self._sockets[user_id]

    def sockets(self, user_id: int) -> dict[str, str]:
        with self._lock:
            return dict(self._sockets.get(user_id, {}))

    def count(self, user_id: int) -> int:
        with self._lock:
            return len(self._sockets.get(user_id, {}))

    def touch(self, user_id: int, sockets: Mapping[str, str]) -> None:
        """One process: what it holds is what there is."""

    def connected(self, user_ids: Iterable[int]) -> set[int]:
        with self._lock:
            return {user_id for user_id in user_ids if self._sockets.get(user_id)}

    def anyone_connected(self) -> bool:
        with self._lock:
            return bool(self._sockets)


class RedisRegistry:
    def __init__(
        self,
        url: str,
        prefix: str,
        stale_after: float = 90,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1, decode_responses=True
        )
        self._prefix = f"{prefix}:rt"
        self._stale_after = stale_after
        self._clock = clock
        self._forget = self._redis.register_script(_FORGET)
        #: The users holding a socket (or left behind by a process that died, until
        #: their sockets are counted: that only costs some needless work).
        self._users_key = f"{self._prefix}:users"

    def _sockets_key(self, user_id: int) -> str:
        return f"{self._prefix}:sockets:{user_id}"

    def _seen_key(self, user_id: int) -> str:
        """When a process last vouched for each socket: socket id -> epoch seconds."""
        return f"{self._prefix}:seen:{user_id}"

    def add(self, user_id: int, sid: str, session_id: str) -> None:
        key, seen = self._sockets_key(user_id), self._seen_key(user_id)
        pipe = self._redis.pipeline()
        pipe.hset(key, sid, session_id)
        pipe.zadd(seen, {sid: self._clock()})
        pipe.sadd(self._users_key, user_id)
        pipe.expire(key, SOCKETS_TTL)
        pipe.expire(seen, SOCKETS_TTL)
        pipe.execute()

    def remove(self, user_id: int, sid: str) -> None:
        self._forget_sockets(user_id, [sid])

    def _forget_sockets(self, user_id: int, sids: list[str]) -> None:
        keys = [
            self._sockets_key(user_id),
            self._seen_key(user_id),
            self._users_key,
        ]
        self._forget(keys=keys, args=[user_id, *sids])

    def sockets(self, user_id: int) -> dict[str, str]:
        return self._redis.hgetall(self._sockets_key(user_id))  # type: ignore[return-value]

    def count(self, user_id: int) -> int:
        seen = self._seen_key(user_id)
        cutoff = self._clock() - self._stale_after
        stale: list[str] = self._redis.zrangebyscore(seen, "-inf", cutoff)  # type: ignore[assignment]
        if stale:  # left by a process that died holding them
            self._forget_sockets(user_id, stale)
        return int(self._redis.zcard(seen))  # type: ignore[arg-type]

    def touch(self, user_id: int, sockets: Mapping[str, str]) -> None:
        if not sockets:
            return
        key, seen = self._sockets_key(user_id), self._seen_key(user_id)
        pipe = self._redis.pipeline()
        pipe.hset(key, mapping=dict(sockets))
        pipe.zadd(seen, dict.fromkeys(sockets, self._clock()))
        pipe.sadd(self._users_key, user_id)
        pipe.expire(seen, SOCKETS_TTL)
        pipe.expire(key, SOCKETS_TTL)  # held longer than the TTL
        pipe.execute()

    def connected(self, user_ids: Iterable[int]) -> set[int]:
        """A user's socket list is gone with their last socket (or left by a process
        that died: then they count as connected until it expires or is counted)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for user_id in ids:
            pipe.exists(self._sockets_key(user_id))
        return {user_id for user_id, held in zip(ids, pipe.execute(), strict=True) if held}

    def anyone_connected(self) -> bool:
        return bool(self._redis.exists(self._users_key))


def make_registry(redis_url: str | None, prefix: str, session_check: float) -> Registry:
    """``session_check``: how often each process vouches for its sockets (``touch``)."""
    if redis_url:
        return RedisRegistry(redis_url, prefix, stale_after=3 * session_check)
    return LocalRegistry()
