"""Health probes: liveness (``/healthz``) and readiness (``/readyz``)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import redis
from flask import Blueprint, Response, current_app, jsonify
from flask.blueprints import BlueprintSetupState
from sqlalchemy import text

from doable.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
#: Seconds one readiness result answers for, in each process.
READY_FOR = 1.0


class Readiness:
    """This process's last readiness checks, reused for ``ttl`` seconds.

    Load balancers ask often, and anyone may: however many ``/readyz`` calls arrive, a
    process sends at most one database and one Redis round trip a second (calls arriving
    during a check wait for its result), while an outage still shows within ``ttl``.
    """

    def __init__(self, ttl: float = READY_FOR, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._checks: dict[str, str] = {}
        self._until = -math.inf

    def checks(self) -> dict[str, str]:
        with self._lock:
            started = self._clock()
            if started >= self._until:
                self._checks = _run_checks()
                self._until = started + self._ttl
            return self._checks


@bp.record_once
def _init_readiness(state: BlueprintSetupState) -> None:
    state.app.extensions["doable.readiness"] = Readiness()


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database answers, and Redis too when it is configured (as of at most
    ``READY_FOR`` seconds ago)."""
    checks = current_app.extensions["doable.readiness"].checks()
    ready = all(state == "ok" for state in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503


def _run_checks() -> dict[str, str]:
    checks = {"database": _check_database()}
    client = current_app.extensions["doable.redis"]
    if client is not None:
        checks["redis"] = _check_redis(client)
    return checks


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        log.warning("readiness: database unavailable", exc_info=True)
        return "unavailable"
    return "ok"


def _check_redis(client: redis.Redis) -> str:
    try:
        client.ping()
    except redis.RedisError:
        log.warning("readiness: redis unavailable", exc_info=True)
        return "unavailable"
    return "ok"
