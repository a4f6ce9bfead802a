"""The domain's exceptions and the one place that turns any error into a response.

Services raise ``DoableError`` subclasses; Werkzeug, webargs and Flask-Limiter raise
``HTTPException``; anything else is a bug and becomes a 500 without a traceback.
Each becomes an RFC 9457 Problem Details document carrying the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
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


class PayloadTooLarge(DoableError):
    status = 413


class UnsupportedMediaType(DoableError):
    status = 415


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


def render_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    messages = data.get("errors") or data.get("messages")
    if messages:
        errors = _flatten_locations(messages)
        return problem(status, _validation_detail(errors), headers=headers, errors=errors)
    return problem(status, data.get("message") or error.description, headers=headers)


def render_domain_error(error: DoableError) -> Response:
    return problem(error.status, error.detail, headers=error.headers, **error.extra)


def register_error_handlers(app: Flask) -> None:
    from doable.extensions import db

    def integrity_error(error: IntegrityError) -> Response:
        db.session.rollback()
        log.info("integrity error turned into 409: %s", error.orig)
        return problem(409, "The request conflicts with data that already exists")

    def unexpected_error(error: Exception) -> Response:
        db.session.rollback()
        log.exception("unhandled error")
        return problem(500, "An unexpected error occurred; quote the request id when reporting it")

    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(DoableError, render_domain_error)
    app.register_error_handler(IntegrityError, integrity_error)
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
