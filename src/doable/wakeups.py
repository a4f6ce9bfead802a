"""Telling workers in other processes that there is work: a Redis pub/sub channel.

A committed change (``signals.changes_committed``) or queued delivery
(``signals.work_queued``) is announced on ``<REDIS_PREFIX>:worker``; each worker
(``doable.worker``) listens there, and looks for work at once instead of at its next
poll. Only a hint: the database holds the work, and a worker that hears nothing still
polls every ``DOABLE_WORKER_POLL_INTERVAL`` seconds. So Redis away, flushed or
restarted costs latency, never work, and never a write: an announcement that fails is
logged, and the process stops announcing for ``PAUSE`` seconds (a write would
otherwise wait for Redis' timeout each time); a listener that loses Redis tries again,
with backoff, and meanwhile its worker polls."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask

from doable import signals
from doable.settings import settings

log = logging.getLogger(__name__)

#: Seconds a process stops announcing after Redis failed to take an announcement.
PAUSE = 5.0
#: Seconds between a listener's tries to reach Redis again, at most.
MAX_BACKOFF = 10.0
#: How often (seconds) a listener looks up from an idle channel to see if it must stop.
LISTEN_TICK = 1.0

_EXTENSION = "doable.wakeups"


def channel(app: Flask) -> str:
    return f"{settings(app).redis_prefix}:worker"


class Announcer:
    """Announces work on the channel, from any process that writes (with ``REDIS_URL``)."""

    def __init__(self, client: redis.Redis, name: str) -> None:
        self._client = client
        self._channel = name
        self._quiet_until = 0.0

    def announce(self, sender: Flask, **_: Any) -> None:
        if time.monotonic() < self._quiet_until:
            return
        try:
            self._client.publish(self._channel, b"1")
        except redis.RedisError as error:
            self._quiet_until = time.monotonic() + PAUSE
            log.warning("could not wake the workers through Redis (%s); they poll", error)


def init_wakeups(app: Flask) -> None:
    """With ``REDIS_URL``, announce this app's committed changes and queued work to the
    workers of every process. Needs ``init_redis`` first."""
    client = app.extensions["doable.redis"]
    if client is None:
        return
    announcer = Announcer(client, channel(app))
    app.extensions[_EXTENSION] = announcer  # holds the listener: signals keep weak refs
    signals.changes_committed.connect(announcer.announce, sender=app)
    signals.work_queued.connect(announcer.announce, sender=app)


def listen(app: Flask, wake: Callable[[], None], stop: threading.Event) -> None:
    """Call ``wake()`` for each announcement on the channel until ``stop`` is set (run
    it in a thread of its own). Also once on each (re)connection: what was announced
    while it was away is lost."""
    url = settings(app).redis_url
    if not url:
        return
    failures = 0
    while not stop.is_set():
        client = redis.Redis.from_url(url, socket_connect_timeout=1, health_check_interval=30)
        started = time.monotonic()
        try:
            _follow(client, channel(app), wake, stop)
            return
        except redis.RedisError as error:
            # A connection that held for a while starts the backoff again.
            failures = 1 if time.monotonic() - started > MAX_BACKOFF else failures + 1
            backoff = min(MAX_BACKOFF, 0.5 * 2 ** min(failures, 10))
            log.warning(
                "worker: Redis unreachable (%s); polling, retrying in %.1fs", error, backoff
            )
            stop.wait(backoff)
        finally:
            client.close()


def _follow(
    client: redis.Redis, name: str, wake: Callable[[], None], stop: threading.Event
) -> None:
    with client.pubsub(ignore_subscribe_messages=True) as pubsub:  # type: ignore[no-untyped-call]
        pubsub.subscribe(name)
        wake()
        while not stop.is_set():
            if pubsub.get_message(timeout=LISTEN_TICK) is not None:
                wake()
