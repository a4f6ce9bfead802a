"""Access and refresh tokens: issuing them, and turning every bad token into a 401.

An access token names its user (``sub``) and its login session (``sid``); it is good
while it has not expired and its session has not been revoked. Both are checked in
the one query that loads the caller. Every token, access or refresh, must carry
``exp``, ``iat``, ``jti``, ``sub`` and ``type``; one without them is invalid even when
its signature is right.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    decode_token,
    get_current_user,
    verify_jwt_in_request,
)
from jwt import InvalidTokenError, MissingRequiredClaimError, PyJWTError
from sqlalchemy import select

from doable.auth.models import AuthSession, User
from doable.db import utcnow, valid_id
from doable.errors import ProblemType, Unauthorized, bearer_challenge, problem
from doable.extensions import db, jwt
from doable.settings import settings

#: Claims every token must carry (Flask-JWT-Extended would fill in a missing type or jti).
REQUIRED_CLAIMS = ("exp", "iat", "jti", "sub", "type")
TOKEN_TYPES = ("access", "refresh")
_AUTHENTICATION = "doable.authentication"  # request environ: its outcome, user or error


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105


def new_jti() -> str:
    return str(uuid.uuid4())


def issue_tokens(*, session: AuthSession) -> TokenPair:
    identity = str(session.user_id)
    claims = {"sid": session.id}
    access = create_access_token(identity=identity, additional_claims=claims)
    refresh = create_refresh_token(
        identity=identity, additional_claims={**claims, "jti": session.refresh_jti}
    )
    return TokenPair(access, refresh, settings().access_token_ttl)


def read_refresh_token(token: str) -> dict[str, Any]:
    """Verify a refresh token's signature, expiry and type; return its claims."""
    try:
        claims = decode_token(token)
    except PyJWTError as exc:
        raise Unauthorized(
            "Invalid or expired refresh token", problem_type=ProblemType.INVALID_TOKEN
        ) from exc
    if claims.get("type") != "refresh" or not claims.get("sid"):
        raise Unauthorized("Not a refresh token", problem_type=ProblemType.INVALID_TOKEN)
    return claims


def _live() -> tuple[Any, ...]:
    """A login session that still lets its holder in: not revoked, not expired."""
    return (AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow())


def login_ids(user_id: object, session_id: object) -> tuple[int, str] | None:
    """A claimed (user id, login session id), as a token's claims or a cookie hold them
    (the id as text or a number), if well-formed; else None."""
    if isinstance(user_id, str) and user_id.isdigit() and len(user_id) <= 10:
        user_id = int(user_id)
    if isinstance(user_id, bool) or not (
        isinstance(user_id, int) and valid_id(user_id) and isinstance(session_id, str)
    ):
        return None
    return user_id, session_id


def load_session_user(user_id: object, session_id: object) -> User | None:
    """The user of a login session that has neither been revoked nor expired, else None.

    The one check behind every authenticated door: API tokens, web cookies, sockets.
    """
    ids = login_ids(user_id, session_id)
    if ids is None:
        return None
    user_id, session_id = ids
    query = (
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(User.id == user_id, AuthSession.id == session_id)
        .where(*_live())
    )
    user = db.session.execute(query).scalar_one_or_none()
    if user is not None and has_request_context():
        g.user_id = user.id  # for the access log line
    return user


def live_session_ids(session_ids: Iterable[str]) -> list[str]:
    """Which of these login sessions are still live (neither revoked nor expired)."""
    ids = list(session_ids)
    if not ids:
        return []
    query = select(AuthSession.id).where(AuthSession.id.in_(ids), *_live())
    return list(db.session.scalars(query))


def _decode_key(_header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The key that verifies every token, once its claims are complete.

    Flask-JWT-Extended's one hook that sees a token's claims before it fills in
    defaults for a missing ``type`` or ``jti``; every decode passes through it (API
    requests, the refresh route, socket connects)."""
    for claim in REQUIRED_CLAIMS:
        if claims.get(claim) in (None, ""):
            raise MissingRequiredClaimError(claim)
    if claims["type"] not in TOKEN_TYPES:
        raise InvalidTokenError("Unknown token type")
    return settings().jwt_secret_key


def _canonical_bearer_scheme() -> None:
    """Authentication schemes are case-insensitive (RFC 9110): ``bearer`` and ``BEARER``
    mean ``Bearer``, which is the only spelling Flask-JWT-Extended matches."""
    scheme, space, rest = request.headers.get("Authorization", "").strip().partition(" ")
    if space and scheme != "Bearer" and scheme.lower() == "bearer":
        request.environ["HTTP_AUTHORIZATION"] = f"Bearer {rest}"


def authenticate() -> User:
    """The caller of this API request: the user of its live access token (valid
    signature, unexpired, type access, login session neither revoked nor expired).

    Checked once per request, and the outcome kept in the request (not ``g``, which
    outlives a request when an app context was already pushed): the rate-limit key and
    the view share it. A bad token raises the library's error, answered 401 by its
    handlers."""
    outcome = request.environ.get(_AUTHENTICATION)
    if outcome is None:
        try:
            _canonical_bearer_scheme()
            verify_jwt_in_request()
            outcome = get_current_user()
        except Exception as exc:  # kept; raised again below, for the handlers
            outcome = exc
        request.environ[_AUTHENTICATION] = outcome
    if isinstance(outcome, Exception):
        raise outcome
    user: User = outcome
    return user


def authenticated_user_id() -> int | None:
    """The id of the user :func:`authenticate` finds, or None when it refuses the call."""
    try:
        return authenticate().id
    except Exception:  # the view raises it again, answered 401
        return None


def _load_caller(_header: dict[str, Any], claims: dict[str, Any]) -> User | None:
    return load_session_user(claims.get("sub"), claims.get("sid"))


def _unauthorized(detail: str, kind: ProblemType = ProblemType.INVALID_TOKEN) -> Response:
    challenge = {"WWW-Authenticate": bearer_challenge(detail)}
    return problem(401, detail, problem_type=kind, headers=challenge)


def register_jwt_callbacks(app: Flask) -> None:
    """Flask-JWT-Extended answers 422 for some bad tokens; every bad token is a 401."""
    jwt.decode_key_loader(_decode_key)
    jwt.user_lookup_loader(_load_caller)
    jwt.user_lookup_error_loader(lambda _h, _c: _unauthorized("Token has been revoked"))
    jwt.expired_token_loader(lambda _h, _c: _unauthorized("Token has expired"))
    jwt.revoked_token_loader(lambda _h, _c: _unauthorized("Token has been revoked"))
    jwt.invalid_token_loader(lambda reason: _unauthorized(f"Invalid token: {reason}"))
    jwt.unauthorized_loader(
        lambda reason: _unauthorized(reason, ProblemType.AUTHENTICATION_REQUIRED)
    )
    jwt.token_verification_failed_loader(lambda _h, _c: _unauthorized("Invalid token claims"))
    jwt.needs_fresh_token_loader(lambda _h, _c: _unauthorized("Fresh token required"))
