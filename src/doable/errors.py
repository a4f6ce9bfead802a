"""The domain's exceptions and the one place that turns any error into a response.

Services raise ``DoableError`` subclasses; Werkzeug, webargs and Flask-Limiter raise
``HTTPException``; anything else is a bug and becomes a 500 without a traceback.
Each becomes an RFC 9457 Problem Details document carrying the request id, or, on a
browser route (``is_browser_route``), an HTML error page in the site's layout.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json, render_template, request
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from doable.logs import loggable_path

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
#: PostgreSQL's "transaction rollback" class: a deadlock or serialisation failure ended
#: the transaction; nothing was written and the same request would succeed if retried.
_ROLLED_BACK_SQLSTATE = "40"
#: Problem type URIs are identifiers (tag URIs, RFC 4151), not addresses to fetch.
PROBLEM_TYPE_BASE = "tag:doable.dev,2026:problems/"
log = logging.getLogger(__name__)


class ProblemType(Enum):
    """Every kind of problem the API answers, each with a stable ``type`` URI, so a
    program tells "unknown user" from "task not found" without reading ``detail``.
    docs/problems.md and the OpenAPI document list them all (a test keeps them in step).
    Only add members: a published slug never changes meaning."""

    BAD_REQUEST = (400, "The request could not be understood.")
    INVALID_INPUT = (400, "A field, parameter or body is invalid; `errors` names each one.")
    EMPTY_FILE = (400, "The uploaded file is empty.")
    CANNOT_SHARE_WITH_SELF = (400, "A task cannot be shared with its owner.")
    AUTHENTICATION_REQUIRED = (401, "No bearer token was sent, or not in the right form.")
    INVALID_TOKEN = (401, "The token is invalid, expired, revoked or of the wrong kind.")
    INVALID_CREDENTIALS = (401, "The username or email and password do not match.")
    FORBIDDEN = (403, "You may not do this.")
    INSUFFICIENT_ACCESS = (403, "The task is shared with you, but not with enough access.")
    INSUFFICIENT_SCOPE = (403, "The API token lacks the scope this route needs (`required_scope`).")
    API_TOKEN_NOT_ALLOWED = (403, "This route takes a login's access token, not an API token.")
    NOT_FOUND = (404, "There is nothing at this URL.")
    TASK_NOT_FOUND = (404, "No such task, or none you can see.")
    USER_NOT_FOUND = (404, "No user has that username or email.")
    CATEGORY_NOT_FOUND = (404, "No such category among yours.")
    ATTACHMENT_NOT_FOUND = (404, "No such attachment on this task, or its file is gone.")
    SHARE_NOT_FOUND = (404, "The task is not shared with that user.")
    API_TOKEN_NOT_FOUND = (404, "No such API token among yours.")
    WEBHOOK_NOT_FOUND = (404, "No such webhook among yours.")
    NOTIFICATION_NOT_FOUND = (404, "No such notification among yours.")
    CALENDAR_FEED_NOT_FOUND = (404, "No calendar feed at this address (never made, or revoked).")
    DELIVERY_NOT_FOUND = (404, "No such delivery of this webhook.")
    METHOD_NOT_ALLOWED = (405, "The URL does not take this method; `Allow` lists those it does.")
    NOT_ACCEPTABLE = (406, "The server cannot answer in a type the `Accept` header allows.")
    REQUEST_TIMEOUT = (408, "The request body arrived too slowly.")
    CONFLICT = (409, "The request conflicts with data that already exists.")
    USERNAME_TAKEN = (409, "The username is already taken (ignoring case).")
    EMAIL_TAKEN = (409, "The email is already registered (ignoring case).")
    CATEGORY_NAME_TAKEN = (409, "You already have a category with that name (ignoring case).")
    CATEGORY_LIMIT_REACHED = (409, "The owner has as many categories as allowed (`limit`).")
    API_TOKEN_LIMIT_REACHED = (409, "You have as many API tokens as allowed (`limit`).")
    WEBHOOK_LIMIT_REACHED = (409, "You have as many webhooks as allowed (`limit`).")
    NOT_RECURRING = (409, "The task does not recur: it has no occurrences to skip or list.")
    OCCURRENCE_NOT_DUE = (409, "That occurrence is not the task's current one yet (`occurrence`).")
    CONCURRENT_UPDATE = (409, "Another request changed the same data at the same time; retry.")
    IDEMPOTENCY_KEY_IN_USE = (409, "A request with this `Idempotency-Key` is still being answered.")
    FEED_POSITION_GONE = (410, "Changes after this position were pruned; reload (`oldest_seq`).")
    PRECONDITION_FAILED = (412, "The resource changed since the `If-Match` ETag; nothing changed.")
    BODY_TOO_LARGE = (413, "The request body is larger than the limit.")
    FILE_TOO_LARGE = (413, "The uploaded file is larger than the upload limit.")
    STORAGE_QUOTA_EXCEEDED = (413, "The file would take the task owner past their quota.")
    URL_TOO_LONG = (414, "The URL is longer than the limit.")
    UNSUPPORTED_MEDIA_TYPE = (415, "The body is not of a type this route takes (`Accept-Post`).")
    IDEMPOTENCY_KEY_REUSED = (422, "This `Idempotency-Key` was used for a different request.")
    PRECONDITION_REQUIRED = (428, "This request needs a precondition header such as `If-Match`.")
    RATE_LIMITED = (429, "Too many requests; retry after `Retry-After` seconds.")
    LOGIN_SLOWED_DOWN = (429, "Too many failed logins for this account; retry after `Retry-After`.")
    INTERNAL_ERROR = (500, "An unexpected error; quote `request_id` when reporting it.")
    SERVICE_UNAVAILABLE = (503, "The database is away or busy; retry after `Retry-After`.")
    INSUFFICIENT_STORAGE = (507, "The server has no room left to store the file.")

    def __init__(self, status: int, meaning: str) -> None:
        self.status = status
        self.meaning = meaning

    @property
    def slug(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.slug

    @classmethod
    def for_status(cls, status: int) -> ProblemType | None:
        """The general kind for ``status``: what an error says when nothing more specific
        is known (None: ``about:blank``, the status says it all)."""
        return _GENERAL.get(status)


#: The kind an error has when nothing more specific is known, by status.
_GENERAL = {
    kind.status: kind
    for kind in (
        ProblemType.BAD_REQUEST,
        ProblemType.AUTHENTICATION_REQUIRED,
        ProblemType.FORBIDDEN,
        ProblemType.NOT_FOUND,
        ProblemType.METHOD_NOT_ALLOWED,
        ProblemType.NOT_ACCEPTABLE,
        ProblemType.REQUEST_TIMEOUT,
        ProblemType.CONFLICT,
        ProblemType.PRECONDITION_FAILED,
        ProblemType.BODY_TOO_LARGE,
        ProblemType.URL_TOO_LONG,
        ProblemType.UNSUPPORTED_MEDIA_TYPE,
        ProblemType.PRECONDITION_REQUIRED,
        ProblemType.RATE_LIMITED,
        ProblemType.INTERNAL_ERROR,
        ProblemType.SERVICE_UNAVAILABLE,
        ProblemType.INSUFFICIENT_STORAGE,
    )
}


class DoableError(Exception):
    """Base of every error a service raises on purpose. ``problem_type`` says which kind
    it is (default: the general kind of the class's status)."""

    status: int = 500

    def __init__(
        self,
        detail: str | None = None,
        *,
        problem_type: ProblemType | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problem_type = problem_type or ProblemType.for_status(self.status)
        if problem_type is not None:
            self.status = problem_type.status
        self.headers = dict(headers or {})
        self.extra = extra


class BadRequest(DoableError):
    status = 400


class ValidationFailed(DoableError):
    """400 naming every bad field: ``ValidationFailed(errors={"field": ["..."]})``."""

    status = 400

    def __init__(self, errors: Mapping[str, list[str]], detail: str | None = None) -> None:
        super().__init__(
            detail or _validation_detail(errors),
            problem_type=ProblemType.INVALID_INPUT,
            errors=dict(errors),
        )


class Unauthorized(DoableError):
    status = 401

    def __init__(
        self,
        detail: str = "Authentication required",
        *,
        problem_type: ProblemType = ProblemType.AUTHENTICATION_REQUIRED,
    ) -> None:
        super().__init__(
            detail,
            problem_type=problem_type,
            headers={"WWW-Authenticate": bearer_challenge(detail)},
        )


class Forbidden(DoableError):
    status = 403


class NotFound(DoableError):
    status = 404


class Conflict(DoableError):
    status = 409


class Gone(DoableError):
    status = 410


class PreconditionFailed(DoableError):
    status = 412


class UnprocessableContent(DoableError):
    status = 422


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
    problem_type: ProblemType | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Build a Problem Details response; the only place error bodies are made. Its
    ``type`` is ``problem_type``'s URI, else the general one for ``status``."""
    body = problem_data(status, detail, problem_type=problem_type, **extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_data(
    status: int, detail: str | None = None, *, problem_type: ProblemType | None = None, **extra: Any
) -> dict[str, Any]:
    """The Problem Details document ``problem`` answers with, as data (also one item's
    problem in a bulk action's results)."""
    kind = problem_type or ProblemType.for_status(status)
    body: dict[str, Any] = {
        "type": kind.uri if kind else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    body["request_id"] = g.get("request_id")
    return body


def error_data(error: DoableError) -> dict[str, Any]:
    """``problem_data`` of a domain error, as ``render_domain_error`` answers it."""
    return problem_data(error.status, error.detail, problem_type=error.problem_type, **error.extra)


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
    problem_type: ProblemType | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The error as an HTML page for a browser route, else as Problem Details."""
    if is_browser_route():
        return error_page(status, detail, headers=headers)
    return problem(status, detail, problem_type=problem_type, headers=headers, **extra)


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
        detail = _validation_detail(errors)
        invalid = ProblemType.INVALID_INPUT if status == 400 else None
        return error_response(status, detail, problem_type=invalid, headers=headers, errors=errors)
    return error_response(status, data.get("message") or error.description, headers=headers)


def render_domain_error(error: DoableError) -> Response:
    return error_response(
        error.status,
        error.detail,
        problem_type=error.problem_type,
        headers=error.headers,
        **error.extra,
    )


def rolled_back_by_database(error: DBAPIError) -> bool:
    """Whether the database ended the transaction (a deadlock, a serialisation failure):
    nothing was written, and the same request would succeed if sent again."""
    return str(getattr(error.orig, "sqlstate", "")).startswith(_ROLLED_BACK_SQLSTATE)


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
        if rolled_back_by_database(error):
            rollback_quietly()
            log.warning(
                "transaction rolled back by the database (%s): %s", loggable_path(), error.orig
            )
            return error_response(
                409,
                "Another request changed the same data at the same time; nothing was "
                "changed, retry",
                problem_type=ProblemType.CONCURRENT_UPDATE,
            )
        if not database_unavailable(error):
            return unexpected_error(error)
        rollback_quietly()
        first_line = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
        log.warning("database unavailable (%s): %s", loggable_path(), first_line)
        return error_response(
            503,
            "The database is unavailable; retry shortly",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )

    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(DoableError, domain_error)
    app.register_error_handler(IntegrityError, integrity_error)

    def pool_exhausted(error: PoolTimeout) -> Response:
        log.warning("no database connection free within the pool timeout (%s)", loggable_path())
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
