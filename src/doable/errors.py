"""The domain's exceptions and the one place that turns any error into a response.

Services raise ``DoableError`` subclasses; Werkzeug, webargs and Flask-Limiter raise
``HTTPException``; anything else is a bug and becomes a 500 without a traceback.
Each becomes an RFC 9457 Problem Details document carrying the request id, or, on a
browser route (``is_browser_route``), an HTML error page in the site's layout.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json, render_template, request
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
#: Routes that answer Problem Details whoever asks: the JSON API and the probes.
_API_PREFIX = "/api/"
_PROBE_PATHS = frozenset({"/healthz", "/readyz"})
#: Seconds a client is asked to wait when the database is down (a restart, a failover).
DATABASE_RETRY_AFTER = 5
#: PostgreSQL SQLSTATEs of a server that is away: connection exceptions (08xxx), shut
#: down by an administrator or a crash, starting up, out of connection slots.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_SQLITE_BUSY_OR_LOCKED = (5, 6)
log = logging.getLogger(__name__)


class DoableError(Exception):
    """Base of every error a service raises on purpose."""

    status: int = 500

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


class BadRequest(DoableError):
    status = 400


class ValidationFailed(DoableError):
    """400 naming every bad field: ``ValidationFailed(errors={"field": ["..."]})``."""

    status = 400

    def __init__(self, errors: Mapping[str, list[str]], detail: str | None = None) -> None:
        super().__init__(detail or _validation_detail(errors), errors=dict(errors))


class Unauthorized(DoableError):
    status = 401

    def __init__(self, detail: str = "Authentication required") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": bearer_challenge(detail)})


class Forbidden(DoableError):
    status = 403


class NotFound(DoableError):
    status = 404


class Conflict(DoableError):
    status = 409


class PreconditionFailed(DoableError):
    status = 412


class TooManyRequests(DoableError):
    """429; give ``headers={"Retry-After": seconds}``."""

    status = 429


class PayloadTooLarge(DoableError):
    status = 413


class UnsupportedMediaType(DoableError):
    status = 415


class InsufficientStorage(DoableError):
    """507: the server has no room to store what was sent (a full disk or quota)."""

    status = 507


def bearer_challenge(detail: str) -> str:
    quoted = detail.replace("\\", "").replace('"', "")
    return f'Bearer realm="doable", error="invalid_token", error_description="{quoted}"'


def problem(
    status: int,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build a Problem Details response; the only place error bodies are made."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    body["request_id"] = g.get("request_id")
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def is_browser_route() -> bool:
    """Whether this request is for a page (HTML errors) rather than the API or a probe
    (Problem Details). The one place that decides; unknown paths outside ``/api/`` are
    pages."""
    path = request.path
    return not (path.startswith(_API_PREFIX) or path == "/api" or path in _PROBE_PATHS)


def error_response(
    status: int,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The error as an HTML page for a browser route, else as Problem Details."""
    if is_browser_route():
        return error_page(status, detail, headers=headers)
    return problem(status, detail, headers=headers, **extra)


def error_page(
    status: int, detail: str | None = None, *, headers: Mapping[str, str] | None = None
) -> Response:
    """An error page in the site's layout (``templates/error.html``)."""
    context = {"status": status, "title": HTTPStatus(status).phrase, "detail": detail}
    try:
        body = render_template("error.html", request_id=g.get("request_id"), **context)
    except Exception:  # the page must not fail: say the least, safely
        log.exception("error page could not be rendered")
        body = f"<!doctype html><title>{status}</title><h1>{context['title']}</h1>"
    response = Response(body, status=status, mimetype="text/html")
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":  # bearer challenges are for API clients
            response.headers[name] = value
    return response


def render_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    messages = data.get("errors") or data.get("messages")
    if messages:
        errors = _flatten_locations(messages)
        return error_response(status, _validation_detail(errors), headers=headers, errors=errors)
    return error_response(status, data.get("message") or error.description, headers=headers)


def render_domain_error(error: DoableError) -> Response:
    return error_response(error.status, error.detail, headers=error.headers, **error.extra)


def database_unavailable(error: DBAPIError) -> bool:
    """Whether ``error`` says the database is away (down, restarting, unreachable, full
    of connections, or SQLite locked past its timeout) rather than that the query is
    wrong: the first is worth a retry (503), the second is a bug (500)."""
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    original = error.orig
    sqlite_code = getattr(original, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF in _SQLITE_BUSY_OR_LOCKED  # extended codes keep the base
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is None:  # psycopg: libpq failed to reach the server or lost it
        return type(original).__module__.split(".")[0] == "psycopg"
    return str(sqlstate).startswith(_UNAVAILABLE_SQLSTATES)


def register_error_handlers(app: Flask) -> None:
    from doable.extensions import db

    def integrity_error(error: IntegrityError) -> Response:
        db.session.rollback()
        log.info("integrity error turned into 409: %s", error.orig)
        return error_response(409, "The request conflicts with data that already exists")

    def unexpected_error(error: Exception) -> Response:
        db.session.rollback()
        log.exception("unhandled error")
        return error_response(
            500, "An unexpected error occurred; quote the request id when reporting it"
        )

    def rollback_quietly() -> None:
        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the pool replaces it
            log.debug("rollback after a lost connection failed", exc_info=True)

    def domain_error(error: DoableError) -> Response:
        # Release what the refused use case holds (a row lock, SQLite's write lock)
        # now, not when the request ends: the response hooks may wait on the network.
        rollback_quietly()
        return render_domain_error(error)

    def database_error(error: DBAPIError) -> Response:
        if not database_unavailable(error):
            return unexpected_error(error)
        rollback_quietly()
        first_line = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
        log.warning("database unavailable (%s): %s", request.path, first_line)
        return error_response(
            503,
            "The database is unavailable; retry shortly",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )

    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(DoableError, domain_error)
    app.register_error_handler(IntegrityError, integrity_error)

    def pool_exhausted(error: PoolTimeout) -> Response:
        log.warning("no database connection free within the pool timeout (%s)", request.path)
        return error_response(
            503,
            "The server is too busy to reach the database; retry shortly",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )

    app.register_error_handler(DBAPIError, database_error)
    app.register_error_handler(PoolTimeout, pool_exhausted)
    app.register_error_handler(Exception, unexpected_error)


def _flatten_locations(messages: Mapping[str, Any]) -> dict[str, list[str]]:
    """webargs nests errors by location (``{"json": {"title": [...]}}``): flatten them."""
    locations = {"json", "query", "form", "files", "headers", "view_args", "json_or_form"}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if key in locations:
            _flatten(value, "", flat)
        else:
            _flatten({key: value}, "", flat)
    return flat


def _flatten(value: Any, prefix: str, out: dict[str, list[str]]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            name = "body" if key == "_schema" else str(key)
            _flatten(inner, f"{prefix}.{name}" if prefix else name, out)
    elif isinstance(value, list | tuple):
        out.setdefault(prefix or "body", []).extend(str(item) for item in value)
    else:
        out.setdefault(prefix or "body", []).append(str(value))


def _validation_detail(errors: Mapping[str, Any]) -> str:
    return "Invalid input: " + ", ".join(sorted(errors)) if errors else "Invalid input"
