"""Request and response rules that hold for every route: request ids, body content
types and sizes, security headers, and what caches may keep."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge, RequestURITooLarge

from doable.errors import UnsupportedMediaType

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
SWAGGER_UI_PAGE = "/api/docs"
HTML_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
#: Responses any cache may keep as they say (they carry nothing about who asked): the
#: package's static files, the OpenAPI document, Swagger UI and its assets, and the
#: health probes. Everything else is ``Cache-Control: no-store``, and so is any answer
#: that read the web session cookie (``doable.web.session``).
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "api-docs.openapi_json",
        "api-docs.openapi_swagger_ui",
        "ops.swagger_ui_asset",
        "ops.healthz",
        "ops.readyz",
    }
)


def accepts(*mimetypes: str):
    """Declare the body content types a view takes (JSON when undeclared)."""

    def decorator(view):
        view.accepted_mimetypes = frozenset(mimetypes)
        return view

    return decorator


def register_request_hooks(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.before_request(_check_url)
    app.before_request(_check_body)
    app.after_request(_finish_response)


def _assign_request_id() -> None:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _SANE_REQUEST_ID.match(sent) else uuid.uuid4().hex


def _check_url() -> None:
    """A URL longer than ``MAX_URL_LENGTH`` is refused with a 414 problem document.
    (``doable serve`` lets request lines up to 8190 bytes through to here; gunicorn
    answers longer ones itself.)"""
    raw = request.environ.get("RAW_URI") or request.full_path
    if len(raw) > current_app.config["MAX_URL_LENGTH"]:
        raise RequestURITooLarge(
            f"The URL is {len(raw)} characters long; at most "
            f"{current_app.config['MAX_URL_LENGTH']} are accepted"
        )


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def _check_body() -> None:
    """API bodies must be of the declared type (415) and JSON ones stay small (413)."""
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    if request.routing_exception is not None:
        return  # no such route or method: that 404/405 is the answer, whatever the body
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "requires_auth", False) and "Authorization" not in request.headers:
        return  # a protected route answers 401 before it looks at the body
    accepted = getattr(view, "accepted_mimetypes", None) or frozenset({"application/json"})
    if "application/json" in accepted and request.is_json:
        _limit_json_body(current_app.config["MAX_JSON_SIZE"])
    if not _has_body() or request.mimetype in accepted:
        return
    if request.mimetype.endswith("+json") and "application/json" in accepted:
        return
    sent = request.mimetype or "none"
    raise UnsupportedMediaType(
        f"Send the body as {' or '.join(sorted(accepted))} (Content-Type sent: {sent})",
        headers={"Accept-Post": ", ".join(sorted(accepted))},
    )


def _limit_json_body(limit: int) -> None:
    """A JSON body over ``limit`` bytes is 413, sized or streamed. Werkzeug refuses a
    sized one from its Content-Length, but cuts a streamed one (chunked, no
    Content-Length) at the limit without a word, and the cut JSON would be a 400: read
    it here, up to one byte past the limit, to tell (the parser reads the cached copy)."""
    if request.content_length is not None:
        request.max_content_length = limit
        return
    request.max_content_length = limit + 1
    if len(request.get_data(cache=True)) > limit:
        raise RequestEntityTooLarge()


def _finish_response(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    headers = response.headers
    if response.status_code not in (429, 503):
        # Flask-Limiter adds Retry-After to every limited response; it only means
        # something on a refusal.
        headers.pop("Retry-After", None)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = _csp_for(response)
    if request.endpoint not in PUBLIC_ENDPOINTS:
        # Pages, API answers, tokens, downloads and errors may be about one person (or
        # carry a CSRF token bound to their cookie): no browser or proxy keeps a copy.
        # A conditional GET (ETag, 304) still works: the client asks us every time.
        headers["Cache-Control"] = "no-store"
    return response


def _csp_for(response: Response) -> str:
    if response.mimetype != "text/html":
        return JSON_CSP
    if request.path != SWAGGER_UI_PAGE or response.direct_passthrough:
        return HTML_CSP
    # The one page we do not template ourselves (Swagger UI) has inline scripts: allow
    # exactly those by hash rather than opening 'unsafe-inline'. Every other page gets
    # no exception, so HTML injected into one of ours could not run a script.
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(response.get_data())
    )
    return HTML_CSP.replace("script-src 'self'", f"script-src 'self' {hashes}")
