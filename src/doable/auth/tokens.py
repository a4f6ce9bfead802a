"""Access and refresh tokens: issuing them, and turning every bad token into a 401.

An access token names its user (``sub``) and its login session (``sid``); it is good
while it has not expired and its session has not been revoked. Both are checked in
the one query that loads the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from jwt import PyJWTError
from sqlalchemy import select

from doable.auth.models import AuthSession, User
from doable.db import utcnow, valid_id
from doable.errors import ProblemType, Unauthorized, bearer_challenge, problem
from doable.extensions import db, jwt


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
    return TokenPair(access, refresh, current_app.config["ACCESS_TOKEN_TTL"])


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


def _load_caller(_header: dict[str, Any], claims: dict[str, Any]) -> User | None:
    return load_session_user(claims.get("sub"), claims.get("sid"))


def _unauthorized(detail: str, kind: ProblemType = ProblemType.INVALID_TOKEN) -> Response:
    challenge = {"WWW-Authenticate": bearer_challenge(detail)}
    return problem(401, detail, problem_type=kind, headers=challenge)


def register_jwt_callbacks(app: Flask) -> None:
    """Flask-JWT-Extended answers 422 for some bad tokens; SPEC §2 wants 401 for all."""
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
