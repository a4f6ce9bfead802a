"""Who may call an API route: ``auth_required``, the bearer scheme it documents, the
per-user rate limit it counts the call against, and ``current_user``, the caller. A
write's ``Idempotency-Key`` is handled there too, once the caller is known (keys are
per user: ``doable.changes.idempotency``)."""

from __future__ import annotations

from copy import deepcopy
from functools import wraps
from typing import Any

from flask import current_app
from flask_smorest.utils import deepupdate
from sqlalchemy.orm.exc import ObjectDeletedError
from werkzeug.local import LocalProxy

from doable.api_tokens.models import SCOPES
from doable.auth.logins import caller_deleted
from doable.auth.models import User
from doable.auth.tokens import authenticate, caller_id, rate_limit_key
from doable.changes.idempotency import idempotent
from doable.errors import Conflict, ProblemType, Unauthorized
from doable.extensions import limiter
from doable.limits import client_address_key
from doable.settings import settings

BEARER_AUTH = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
UNAUTHORIZED_DOC = {"$ref": "#/components/responses/UNAUTHORIZED"}
#: A personal API token refused: outside its scopes, or on a route that takes none.
FORBIDDEN_DOC = "FORBIDDEN"  # by name: apispec then emits the (lazy) component
#: The operation's extension naming the scope an API token needs to call it (absent: the
#: route takes a login's access token only; the document holds no nulls).
SCOPE_EXTENSION = "x-required-scope"
TOO_MANY_REQUESTS_DOC = {"$ref": "#/components/responses/TOO_MANY_REQUESTS"}


class _CurrentUser(LocalProxy[User]):
    """:func:`authenticate`'s user, whose ``id`` comes from the check itself: most
    services read nothing else of the caller, so most calls never build the ``User``
    (any other attribute does, and reads it through the proxy as before)."""

    @property
    def id(self) -> int:
        return caller_id()


#: The user calling a route behind :func:`auth_required` (checked once per request).
current_user: User = _CurrentUser(authenticate)  # type: ignore[assignment]


def caller_key() -> str:
    """Rate-limit key of an API call: its user when it holds a live access token, its
    token (``token:<id>``) when it holds a live API token within its scopes (the check
    that authenticates the call, made once for both), else its address (an IPv6 client
    by its /64). So a dead token (expired, revoked, rotated, a refresh token) spends the
    budget of whoever sends it, never its owner's; each API token has a budget of its own."""
    return rate_limit_key() or f"ip:{client_address_key()}"


def _api_rate_limit() -> str:
    return settings().api_rate_limit


#: One budget per user across every authenticated route (``DOABLE_API_RATE_LIMIT``).
api_limit = limiter.shared_limit(_api_rate_limit, scope="api", key_func=caller_key)


def auth_required(view: Any = None, *, scope: str | None = None) -> Any:
    """Require a valid access token, count the call against its user's rate limit, and
    say both in the OpenAPI document; then answer a retried write from the first one's
    response (``Idempotency-Key``).

    ``@auth_required`` takes a login's access token only; ``@auth_required(scope=...)``
    also takes a personal API token holding that scope (``doable.api_tokens``). The
    check itself is made with the token's (``doable.auth.tokens``), from the view's
    ``required_scope``: a JWT's path reads nothing of it."""
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    if view is None:
        return lambda wrapped: auth_required(wrapped, scope=scope)

    @wraps(view)
    def authenticated(*args: Any, **kwargs: Any) -> Any:
        caller = caller_id()  # a bad token raises here, answered 401
        try:
            return idempotent(caller, current_app.ensure_sync(view), *args, **kwargs)
        # The caller's account, deleted unannounced (doable.auth.logins)? Reading its row
        # raises the first; a write naming it as owner, refused by its foreign key, the
        # second. Either way, one statement tells, on this error path only.
        except (ObjectDeletedError, Conflict):
            if caller_deleted(caller):
                raise Unauthorized(
                    "Token has been revoked", problem_type=ProblemType.INVALID_TOKEN
                ) from None
            raise

    limited = api_limit(authenticated)

    @wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        # With rate limits off, Flask-Limiter's wrapper still looks up the endpoint and
        # walks its (empty) limits on every call: 6 % of a GET under cProfile. Its own
        # switch says when it would count nothing, so skip it then. Read per call (some
        # 20 ns), as Flask-Limiter reads it: the decorator is applied at import, before
        # any app, and the switch belongs to the one limiter, set by the app built last
        # (a process may build apps with limits on and off, as the tests do).
        if limiter.enabled and limiter.initialized:
            return limited(*args, **kwargs)
        return authenticated(*args, **kwargs)

    protected: Any = checked
    protected.requires_auth = True  # read by check_api_body: authentication is answered first
    protected.required_scope = scope  # None: no API token may call it
    protected._apidoc = deepupdate(
        deepcopy(getattr(view, "_apidoc", {})),
        {
            "manual_doc": {
                "security": [{"bearerAuth": []}],
                **({SCOPE_EXTENSION: scope} if scope else {}),
                "responses": {
                    "401": UNAUTHORIZED_DOC,
                    "403": FORBIDDEN_DOC,
                    "429": TOO_MANY_REQUESTS_DOC,
                },
            }
        },
    )
    return protected
