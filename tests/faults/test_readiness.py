"""``/readyz`` reuses one answer for ``READY_FOR`` seconds, yet a Redis that goes away
shows within that, and one that comes back is found again through the same pool."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from flask import Flask

from doable.health import READY_FOR
from tests.faults.conftest import RedisServer, wait_until

CHECK_TIME = 2.5  # the longest one check may take: a refused connection, tried twice


def test_readyz_follows_redis_going_away_and_back_within_its_cache_time(
    make_app: Callable[..., Flask], own_redis: RedisServer
) -> None:
    app = make_app(REDIS_URL=own_redis.url)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    own_redis.stop(signal.SIGKILL)
    stopped_at = time.monotonic()
    wait_until(lambda: client.get("/readyz").status_code == 503, 10, 0.05, "a 503")
    noticed_in = time.monotonic() - stopped_at
    down = client.get("/readyz")

    own_redis.start()
    started_at = time.monotonic()
    wait_until(lambda: client.get("/readyz").status_code == 200, 10, 0.05, "a 200")
    recovered_in = time.monotonic() - started_at

    assert noticed_in <= READY_FOR + CHECK_TIME
    assert down.json == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "unavailable"},
    }
    assert recovered_in <= READY_FOR + CHECK_TIME
