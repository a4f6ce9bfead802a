"""Logins this process checked recently, so a request of one skips the database.

Every authenticated door (API tokens, web cookies, socket connects) asks
``tokens.load_session_user`` whether a login session is live. The answer costs a
statement; this cache keeps a "yes" for a while (socket connects read the row all the
same: ``load_session_user``'s ``fresh``), keyed by (user id, login session id),
with the session's own expiry. It holds the user's id and username (which nothing
changes), never a ``User``: the caller is rebuilt from them, and any other column a
request reads is loaded then, so a cached login never serves a stale row.

A "yes" must stop at once, in every process, when the login ends: logout, logout of
every session, a password change, refresh-token reuse, the account deleted. Each is a
service (``auth.service``) that publishes ``sessions_revoked`` after its commit, the
signal the socket tier drops sockets on, and that signal alone tells this cache: one
revocation per user each time. (The services end sessions with bulk ``UPDATE``s, which
no ORM flush hook sees.) Any code that ends logins, or renames a user, must publish it
too. A row changed behind the services' back (SQL, a script) is announced to nobody:
a kept entry then lives at most ``max_age`` seconds, and never past the expiry it
read, the bound sockets have for it too. How the signal reaches every process:

- Without ``REDIS_URL`` there is one process (``doable serve`` refuses several
  workers): the revocation drops the user's entries after its commit, before its
  response. A check that raced it (read the session before the commit) keeps nothing:
  an entry is stored only if no revocation happened since the check began.
- With Redis, each user has a revocation counter in Redis, raised after the commit and
  before the response. An entry remembers the counter as it was *before* its database
  check, and every request that uses the entry reads the counter again (one ``MGET``,
  no SQL). A process therefore refuses a revoked login from the moment the revoking
  request has answered, whatever it has or has not heard. Pub/sub alone (the Socket.IO
  channel) cannot promise that: its message reaches another process some time after
  the response, and that process may answer the client first.
- Redis restarted empty: the counters and an ``epoch`` key are gone, and entries made
  under the old epoch never match again. Redis not answering a process: that process
  checks the database on every request (for a second, then it tries Redis again) and
  forgets its entries. Redis not answering the process that revokes (the counter not
  raised): once Redis answers it again, it replaces the epoch, which voids every
  process's entries; meanwhile, and should it die first, an entry elsewhere still lives
  at most ``max_age`` seconds (``DOABLE_REALTIME_SESSION_CHECK``, the bound sockets
  already have for a revocation message lost the same way). Unless the account was
  deleted: its caller's row is missing the moment a request reads one of its columns,
  and the door (``auth_required``, ``login_required``) refuses it then, through
  ``caller_deleted``, which raises the counter the deleting request could not.

Bounds: ``MAX_ENTRIES`` per process (the oldest go first), ``max_age`` seconds per
entry, and never past the login session's ``expires_at``, to the second.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from flask import Flask, current_app
from sqlalchemy import select

from doable import signals
from doable.auth.models import User
from doable.db import utcnow
from doable.extensions import db
from doable.settings import settings

log = logging.getLogger(__name__)

#: Logins kept per process: a few hundred bytes each.
MAX_ENTRIES = 10_000
#: How long a user's revocation counter outlives its last rise: far beyond ``max_age``,
#: so an entry never sees a counter that vanished and matches again.
COUNTER_TTL = 24 * 3600
#: Seconds the cache stays off after Redis failed to answer (the database answers).
PAUSE = 1.0

#: What revocations looked like when a check began: this process's own count, and in
#: Redis the epoch and the user's counter.
Stamp = tuple[int, bytes | None, bytes | None]


@dataclass(frozen=True, slots=True)
class _Entry:
    username: str
    expires_at: datetime  # the login session's
    stale_at: float  # on the cache's clock: ``max_age`` after the check
    stamp: Stamp


class Logins:
    """The logins one process (one app) checked, and their revocations."""

    def __init__(
        self,
        client: redis.Redis | None,
        prefix: str,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = client
        self._epoch_key = f"{prefix}:logins:epoch"
        self._prefix = f"{prefix}:logins:revoked"
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, str], _Entry] = {}
        self._revocations = 0  # in this process
        self._paused_until = 0.0
        self._epoch_lost = False  # a counter could not be raised: void every entry

    def _counter_key(self, user_id: int) -> str:
        return f"{self._prefix}:{user_id}"

    def lookup(self, user_id: int, session_id: str) -> tuple[str | None, Stamp | None]:
        """The username of this login if it is known live, and if not, the stamp to
        ``keep`` it under after the database says it is (None: keep nothing)."""
        with self._lock:
            entry = self._entries.get((user_id, session_id))
            local = self._revocations
        stamp = self._stamp(user_id, local)
        if entry is None or stamp is None:
            return None, stamp
        fresh = self._clock() < entry.stale_at and utcnow() < entry.expires_at
        if fresh and entry.stamp[1:] == stamp[1:]:  # and no revocation since
            return entry.username, stamp
        with self._lock:
            self._entries.pop((user_id, session_id), None)
        return None, stamp

    def keep(self, user: User, session_id: str, expires_at: datetime, stamp: Stamp) -> None:
        """Remember a login the database just found live, unless a revocation in this
        process ran since ``stamp`` was read (it may have committed after the check)."""
        entry = _Entry(user.username, expires_at, self._clock() + self._max_age, stamp)
        user_id = user.id
        with self._lock:
            if stamp[0] != self._revocations:
                return
            self._entries.pop((user_id, session_id), None)
            self._entries[user_id, session_id] = entry
            while len(self._entries) > MAX_ENTRIES:
                del self._entries[next(iter(self._entries))]

    def revoke(self, user_id: int) -> None:
        """After a commit that ended logins of ``user_id``: one rise of its counter."""
        with self._lock:
            self._revocations += 1
            for key in [key for key in self._entries if key[0] == user_id]:
                del self._entries[key]
        if self._redis is None:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.incr(self._counter_key(user_id))
            pipe.expire(self._counter_key(user_id), COUNTER_TTL)
            pipe.execute()
        except redis.RedisError:
            log.warning("could not announce a revoked login to other processes", exc_info=True)
            self._epoch_lost = True

    def _stamp(self, user_id: int, local: int) -> Stamp | None:
        if self._redis is None:
            return local, None, None
        if self._clock() < self._paused_until:
            return None
        try:
            return (local, *self._read(user_id))
        except redis.RedisError:
            log.warning("Redis did not answer: logins are checked in the database meanwhile")
            with self._lock:
                self._entries.clear()
            self._paused_until = self._clock() + PAUSE
            return None

    def _read(self, user_id: int) -> tuple[bytes | None, bytes | None]:
        assert self._redis is not None
        if self._epoch_lost:
            self._redis.set(self._epoch_key, secrets.token_hex(8))
            self._epoch_lost = False
        epoch, counter = self._redis.mget(self._epoch_key, self._counter_key(user_id))  # type: ignore[misc]
        if epoch is None:  # Redis started afresh: whatever it held before is gone
            self._redis.set(self._epoch_key, secrets.token_hex(8), nx=True)
            epoch = self._redis.get(self._epoch_key)
        return epoch, counter


def init_logins(app: Flask) -> None:
    """This app's cache; read it back with :func:`logins`. Needs ``init_redis`` first."""
    config = settings(app)
    app.extensions["doable.logins"] = Logins(
        app.extensions["doable.redis"], config.redis_prefix, config.realtime_session_check
    )


def logins(app: Flask | None = None) -> Logins:
    found: Logins = (app or current_app).extensions["doable.logins"]
    return found


def caller_deleted(user_id: int) -> bool:
    """Whether the account ``user_id``, a request's caller, is gone; if it is, its
    revocation is announced now.

    For a view reading a caller's column that raised ``ObjectDeletedError``: a caller
    served from a kept login is found missing only then, when the request that deleted
    the account could not reach Redis to raise its counter. The others then stop keeping
    the login at once rather than within ``max_age``."""
    if db.session.scalar(select(User.id).where(User.id == user_id)) is not None:
        return False
    logins().revoke(user_id)
    return True


@signals.sessions_revoked.connect
def _forget_revoked(sender: Flask, user_id: int, **_: Any) -> None:
    logins(sender).revoke(user_id)
