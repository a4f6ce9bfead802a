"""Operations routes: liveness, readiness, and the Swagger UI assets served locally."""

from __future__ import annotations

import logging
from pathlib import Path

import flask_swagger_ui
import redis
from flask import Blueprint, Response, current_app, jsonify, send_from_directory
from sqlalchemy import text

from doable.extensions import db

bp = Blueprint("ops", __name__)
log = logging.getLogger(__name__)
SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).parent / "dist"


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database answers, and Redis too when it is configured."""
    checks = {"database": _check_database()}
    if current_app.config["REDIS_URL"]:
        checks["redis"] = _check_redis(current_app.config["REDIS_URL"])
    ready = all(state == "ok" for state in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.get("/api/docs/assets/<path:filename>")
def swagger_ui_asset(filename: str) -> Response:
    return send_from_directory(SWAGGER_UI_DIST, filename, max_age=86400)


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        log.warning("readiness: database unavailable", exc_info=True)
        return "unavailable"
    return "ok"


def _check_redis(url: str) -> str:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        with client:
            client.ping()
    except redis.RedisError:
        log.warning("readiness: redis unavailable", exc_info=True)
        return "unavailable"
    return "ok"
