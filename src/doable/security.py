"""What every response says for its safety, and how long a URL may be: security
headers, the Content Security Policy (Swagger UI's inline scripts allowed by hash),
``Cache-Control``, and the 414 for an overlong URL."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Response, request
from werkzeug.exceptions import RequestURITooLarge

from doable.settings import settings

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)

#: Every response says these, unless its view said otherwise.
DEFAULT_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)
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
        "swagger_ui.swagger_ui_asset",
        "health.healthz",
        "health.readyz",
    }
)
#: Answers about one person that their own client may keep and revalidate, which say so
#: themselves (``Cache-Control: private, ...``): the calendar feed, polled by calendar
#: apps with ``If-None-Match``. Their errors are ``no-store`` as any other.
PRIVATE_ENDPOINTS = frozenset({"calendar_feed.feed"})


def check_url_length() -> None:
    """A URL longer than ``MAX_URL_LENGTH`` is refused with a 414 problem document.
    (``doable serve`` lets request lines up to 8190 bytes through to here; gunicorn
    answers longer ones itself.)"""
    raw = request.environ.get("RAW_URI") or request.full_path
    limit = settings().max_url_length
    if len(raw) > limit:
        raise RequestURITooLarge(
            f"The URL is {len(raw)} characters long; at most {limit} are accepted"
        )


def add_security_headers(response: Response) -> Response:
    """What a browser may do with the response, and what caches may keep of it."""
    headers = response.headers
    # The names present, read in one pass: each of Werkzeug's lookups of a header that
    # is not there raises and catches an exception, and an API answer has none of these
    # (with four such lookups this hook took 12 us a response; 5 us without).
    present = {name.lower() for name, _ in headers.items()}
    for name, value in DEFAULT_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if "content-security-policy" not in present:
        headers.add("Content-Security-Policy", _csp_for(response))
    own = request.endpoint in PRIVATE_ENDPOINTS and "cache-control" in present
    if request.endpoint not in PUBLIC_ENDPOINTS and not own:
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
