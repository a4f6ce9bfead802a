"""Access and refresh tokens: issuing them, reading them, and turning every bad token
into a 401.

An access token names its user (``sub``) and its login session (``sid``); it is good
while it has not expired and its session has not been revoked. The session is checked
in one query, or not at all when this process checked it recently and nothing has
revoked it since (``doable.auth.logins``). Every token, access or refresh, must carry
``exp``, ``iat``, ``jti``, ``sub`` and ``type``; one without them is invalid even when
its signature is right.

Flask-JWT-Extended issues the tokens; :func:`read_token` reads them, for every door
(API calls, the refresh route, socket connects), with one PyJWT decode and the
library's settings (algorithms, leeway, audience, issuer). An API call's access token
that this process accepted before is not decoded again: only its times are checked
(``doable.auth.token_cache``).

A personal API token (``dbl_…``, ``doable.api_tokens``) is no JWT: PyJWT refuses it, and
only then is it looked up, by its hash, in one query on every request (no cache, so a
revoked token is refused at once by every process). It may call a route declared
``auth_required(scope=...)`` with a scope it holds; any other route refuses it (403).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_jwt_extended import create_access_token, create_refresh_token
from flask_jwt_extended.config import config as jwt_config
from jwt import (
    ExpiredSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWTError,
)
from jwt import decode as decode_jwt
from jwt.types import Options
from sqlalchemy import ColumnElement, bindparam, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from doable.api_tokens.models import TOKEN_PREFIX
from doable.api_tokens.service import find_grant, record_use
from doable.auth.logins import logins
from doable.auth.models import AuthSession, User
from doable.auth.token_cache import token_cache
from doable.db import utcnow, valid_id
from doable.errors import Forbidden, ProblemType, Unauthorized, bearer_challenge, problem
from doable.extensions import db, jwt
from doable.settings import settings

#: Claims every token must carry (Flask-JWT-Extended would fill in a missing type or jti).
REQUIRED_CLAIMS = ("exp", "iat", "jti", "sub", "type")
TOKEN_TYPES = ("access", "refresh")
_AUTHENTICATION = "doable.authentication"  # request environ: its outcome, caller or error
_BEARER = "Bearer"
_EXPECTED = f"Expected 'Authorization: {_BEARER} <JWT>'"


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
        claims = read_token(token)
    except PyJWTError as exc:
        raise Unauthorized(
            "Invalid or expired refresh token", problem_type=ProblemType.INVALID_TOKEN
        ) from exc
    if claims.get("type") != "refresh" or not claims.get("sid"):
        raise Unauthorized("Not a refresh token", problem_type=ProblemType.INVALID_TOKEN)
    return claims


def _live(now: Any) -> tuple[ColumnElement[bool], ...]:
    """A login session that still lets its holder in at ``now``: not revoked, not expired."""
    return (AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)


#: The user of a live login session, and its expiry: built once, run with its ids and
#: the time.
_SESSION_USER = (
    select(User, AuthSession.expires_at)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(User.id == bindparam("user_id"), AuthSession.id == bindparam("session_id"))
    .where(*_live(bindparam("now")))
)


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


def load_session_user(user_id: object, session_id: object, *, fresh: bool = False) -> User | None:
    """The user of a login session that has neither been revoked nor expired, else None.

    The one check behind every authenticated door: API tokens, web cookies, sockets.
    A login this process found live recently is not read again (``doable.auth.logins``),
    unless ``fresh``: a socket connect reads it, so a logout racing the connect either
    commits first or finds the socket registered (``realtime.sockets.connect``).
    """
    login = _live_login(user_id, session_id, fresh=fresh)
    return None if login is None else login.user


@dataclass(slots=True)
class LiveLogin:
    """A login session found live: its user's id and username, and the ``User`` once
    asked for. Most API calls read the caller's id only, and building the ORM object
    into the request's session cost more than the rest of a kept login's check."""

    user_id: int
    username: str
    loaded: User | None = None  # the row, when the check read it from the database

    @property
    def user(self) -> User:
        if self.loaded is None:
            self.loaded = _partial_user(self.user_id, self.username)
        return self.loaded


def _live_login(user_id: object, session_id: object, *, fresh: bool) -> LiveLogin | None:
    """:func:`load_session_user`'s check, without building the ``User``."""
    ids = login_ids(user_id, session_id)
    if ids is None:
        return None
    user_id, session_id = ids
    username, stamp = logins().lookup(user_id, session_id)
    if username is not None and not fresh:
        login = LiveLogin(user_id, username)
    else:
        values = {"user_id": user_id, "session_id": session_id, "now": utcnow()}
        live = db.session.execute(_SESSION_USER, values).one_or_none()
        if live is None:
            return None
        login = LiveLogin(user_id, live.User.username, live.User)
        if stamp is not None:
            logins().keep(live.User, session_id, live.expires_at, stamp)
    if has_request_context():
        g.user_id = user_id  # for the access log line
    return login


def _partial_user(user_id: int, username: str) -> User:
    """The user ``user_id`` in this request's session, as if loaded with its username
    only: any other column is loaded when first read."""
    user = db.session.identity_map.get(identity_key(User, user_id))
    if user is None:
        user = User(id=user_id)
        make_transient_to_detached(user)  # persistent once added; the rest expired
        set_committed_value(user, "username", username)
        db.session.add(user)
    return user


def live_session_ids(session_ids: Iterable[str]) -> list[str]:
    """Which of these login sessions are still live (neither revoked nor expired)."""
    ids = list(session_ids)
    if not ids:
        return []
    query = select(AuthSession.id).where(AuthSession.id.in_(ids), *_live(utcnow()))
    return list(db.session.scalars(query))


def read_token(token: str) -> dict[str, Any]:
    """The claims of a token of ours, access or refresh, checked in one PyJWT decode: its
    signature and algorithm, its expiry, and every required claim. A bad token raises
    PyJWT's error.

    The one reader of tokens. It refuses what Flask-JWT-Extended's ``decode_token``
    refused, with the same error: for a refused token the checks run again in the
    library's order to name the fault it found first (the claims before the signature;
    for an expired token, a malformed ``sub`` or ``jti``), so no answer changed."""
    try:
        claims = _decode(token)
    except PyJWTError as refusal:
        _first_fault(token, refusal)
        raise
    _check_claims(claims)
    return claims


def _read_access_token(token: str) -> dict[str, Any]:
    """:func:`read_token` for an API call's bearer token: an access token this process
    accepted before is not decoded again, only its times checked (``auth.token_cache``)."""
    cache = token_cache()
    claims = cache.claims(token)
    if claims is None:
        claims = read_token(token)
        if claims["type"] == "access":
            leeway = jwt_config.leeway
            seconds = leeway.total_seconds() if isinstance(leeway, timedelta) else leeway
            cache.keep(token, claims, seconds)
    return claims


def _decode(token: str, *, verify_exp: bool = True) -> dict[str, Any]:
    audience = jwt_config.decode_audience
    options: Options = {
        "verify_aud": audience is not None,
        "verify_sub": jwt_config.verify_sub,
        "verify_exp": verify_exp,
        "require": list(REQUIRED_CLAIMS),
    }
    claims: dict[str, Any] = decode_jwt(
        token,
        settings().jwt_secret_key,
        algorithms=jwt_config.decode_algorithms,
        audience=audience,
        issuer=jwt_config.decode_issuer,
        leeway=jwt_config.leeway,
        options=options,
    )
    return claims


def _first_fault(token: str, refusal: PyJWTError) -> None:
    """Raise the fault of a refused token that Flask-JWT-Extended would have named
    before ``refusal``, if any (an error path: the cost of a second read is no matter)."""
    unverified: Options = {"verify_signature": False}
    _check_claims(decode_jwt(token, algorithms=jwt_config.decode_algorithms, options=unverified))
    if isinstance(refusal, ExpiredSignatureError):
        _decode(token, verify_exp=False)


def _check_claims(claims: dict[str, Any]) -> None:
    """What PyJWT's ``require`` lets through: an empty required claim, an unknown type."""
    for claim in REQUIRED_CLAIMS:
        if claims.get(claim) in (None, ""):
            raise MissingRequiredClaimError(claim)
    if claims["type"] not in TOKEN_TYPES:
        raise InvalidTokenError("Unknown token type")


def _bearer_token(authorization: str) -> str:
    """The token of an ``Authorization`` header, read as Flask-JWT-Extended reads one
    (one ``Bearer`` credential among comma-separated ones), with the same refusals.

    Authentication schemes are case-insensitive (RFC 9110): a first scheme spelled
    ``bearer`` or ``BEARER`` means ``Bearer``."""
    scheme, space, rest = authorization.strip().partition(" ")
    if space and scheme != _BEARER and scheme.lower() == "bearer":
        authorization = f"{_BEARER} {rest}"
    authorization = authorization.strip().strip(",")
    if not authorization:
        raise Unauthorized("Missing Authorization Header")
    fields = [s for s in re.split(r",\s*", authorization) if s and s.split()[0] == _BEARER]
    if len(fields) != 1:
        raise Unauthorized(f"Missing '{_BEARER}' type in 'Authorization' header. {_EXPECTED}")
    parts = fields[0].split()
    if len(parts) != 2:
        raise _invalid(f"Invalid token: Bad Authorization header. {_EXPECTED}")
    return parts[1]


def _invalid(detail: str) -> Unauthorized:
    return Unauthorized(detail, problem_type=ProblemType.INVALID_TOKEN)


class _Caller(NamedTuple):
    login: LiveLogin
    session_id: str | None  # None: an API token's call
    token_id: int | None = None  # the API token's

    @property
    def budget(self) -> str:
        """The rate-limit key it spends: its user's, or for an API token, the token's."""
        if self.token_id is None:
            return f"user:{self.login.user_id}"
        return f"token:{self.token_id}"


def _caller() -> _Caller:
    token = _bearer_token(request.headers.get("Authorization", ""))
    try:
        claims = _read_access_token(token)
    except ExpiredSignatureError:
        raise _invalid("Token has expired") from None
    except PyJWTError as exc:
        if token.startswith(TOKEN_PREFIX):  # no JWT: checked here, off the JWT's path
            return _api_token_caller(token)
        raise _invalid(f"Invalid token: {exc}") from None
    if claims["type"] == "refresh":
        raise _invalid("Invalid token: Only non-refresh tokens are allowed")
    login = _live_login(claims["sub"], claims.get("sid"), fresh=False)
    if login is None:  # ended or unknown login session, deleted user, malformed ids
        raise _invalid("Token has been revoked")
    return _Caller(login, claims["sid"])


def _api_token_caller(token: str) -> _Caller:
    """The caller of a personal API token, if it is live and holds the scope the route
    asks for (``auth_required(scope=...)``); a route asking none refuses every API token."""
    grant = find_grant(token)
    if grant is None:  # never issued, or revoked
        raise _invalid("Invalid token: unknown or revoked API token")
    if grant.expired(utcnow()):
        raise _invalid("API token has expired")
    view = current_app.view_functions.get(request.endpoint or "")
    scope = getattr(view, "required_scope", None)
    if scope is None:
        raise Forbidden(
            "This route takes a login's access token, not an API token",
            problem_type=ProblemType.API_TOKEN_NOT_ALLOWED,
        )
    if scope not in grant.scopes:
        raise Forbidden(
            f"This API token lacks the scope '{scope}'",
            problem_type=ProblemType.INSUFFICIENT_SCOPE,
            required_scope=scope,
        )
    record_use(grant)
    g.user_id = grant.user_id  # for the access log line
    return _Caller(LiveLogin(grant.user_id, grant.username), None, grant.token_id)


def _authenticated() -> _Caller:
    """Checked once per request, and the outcome kept in the request (not ``g``, which
    outlives a request when an app context was already pushed): the rate-limit key and
    the view share it."""
    outcome = request.environ.get(_AUTHENTICATION)
    if outcome is None:
        try:
            outcome = _caller()
        except Exception as exc:  # kept; raised again below, answered by its handler
            outcome = exc
        request.environ[_AUTHENTICATION] = outcome
    if isinstance(outcome, Exception):
        raise outcome
    caller: _Caller = outcome
    return caller


def authenticate() -> User:
    """The caller of this API request: the user of its live access token (valid
    signature, unexpired, type access, login session neither revoked nor expired).
    A bad token raises :class:`Unauthorized`, answered 401."""
    return _authenticated().login.user


def caller_id() -> int:
    """The id of :func:`authenticate`'s user, checked the same way, without building
    the ``User``."""
    return _authenticated().login.user_id


def login_session_id() -> str:
    """The login session of this API request's access token (see :func:`authenticate`)."""
    session_id = _authenticated().session_id
    assert session_id is not None  # only routes that refuse API tokens ask
    return session_id


def rate_limit_key() -> str | None:
    """The budget this API request spends (``_Caller.budget``): its user's for a login's
    access token, its token's for an API token; None when the call is refused (a dead
    token, none, or an API token outside its scopes)."""
    try:
        return _authenticated().budget
    except Exception:  # the view raises it again, answered 401 or 403
        return None


def _unauthorized(detail: str, kind: ProblemType = ProblemType.INVALID_TOKEN) -> Response:
    challenge = {"WWW-Authenticate": bearer_challenge(detail)}
    return problem(401, detail, problem_type=kind, headers=challenge)


def register_jwt_callbacks(app: Flask) -> None:
    """Flask-JWT-Extended's ``init_app`` answers PyJWT's errors app-wide, some with 422:
    should one ever escape a view, it is the same 401 as :func:`read_token`'s callers
    give."""
    jwt.expired_token_loader(lambda _h, _c: _unauthorized("Token has expired"))
    jwt.invalid_token_loader(lambda reason: _unauthorized(f"Invalid token: {reason}"))
