"""API token use cases: create (the token shown once), list, revoke; and the lookup
that authenticates a request bearing one (``doable.auth.tokens``).

A token is ``dbl_`` and 40 random letters and digits (238 bits). Only its
HMAC-SHA256 under a key derived from ``SECRET_KEY`` is stored: a leaked table lets
nobody in, and a random token that long needs no slow hash, so checking one costs a
hash and one indexed query. Changing ``SECRET_KEY`` voids every token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, or_, select, update

from doable import signals
from doable.api_tokens.models import TOKEN_PREFIX, ApiToken
from doable.auth.models import User
from doable.db import utcnow
from doable.errors import Conflict, NotFound, ProblemType
from doable.extensions import db
from doable.ownership import count_owned_in_turn, owned
from doable.settings import settings
from doable.unit_of_work import publish, unit_of_work, use_case

_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 40
#: How much of a token lists show: ``dbl_`` and 8 random characters.
PREFIX_LENGTH = 12
_SHAPE = re.compile(f"{TOKEN_PREFIX}[A-Za-z0-9]{{{SECRET_LENGTH}}}")
#: ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_GRANULARITY = timedelta(minutes=1)
#: What sockets opened with an API token are registered under, next to login session
#: ids (hex): revoking the token ends them as a logout ends a login's (``realtime``).
SOCKET_LOGIN_PREFIX = "token:"


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: its row, and the token itself, shown this once."""

    row: ApiToken
    token: str

    def __getattr__(self, name: str) -> Any:  # the row's columns, for NewApiTokenRead
        return getattr(self.row, name)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a presented token, found in the table, lets its holder do."""

    token_id: int
    user_id: int
    username: str
    scopes: frozenset[str]
    expires_at: datetime | None
    last_used_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def new_token() -> str:
    return TOKEN_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))


def token_hash(token: str) -> str:
    """What is stored of a token: its HMAC-SHA256 (hex) under the app's API token key."""
    key = settings().api_token_key.encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def socket_login(token_id: int) -> str:
    return f"{SOCKET_LOGIN_PREFIX}{token_id}"


def list_tokens(*, user: User) -> list[ApiToken]:
    """The user's tokens, newest first (at most ``DOABLE_MAX_API_TOKENS_PER_USER``)."""
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(db.session.scalars(query))


@use_case
def create_token(
    *, user: User, name: str, scopes: list[str], expires_at: datetime | None = None
) -> IssuedToken:
    _ensure_room(user.id)
    token = new_token()
    row = ApiToken(
        user_id=user.id,
        name=name,
        scopes=list(scopes),
        prefix=token[:PREFIX_LENGTH],
        token_hash=token_hash(token),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    db.session.add(row)
    db.session.flush()
    return IssuedToken(row, token)


@use_case
def revoke_token(*, user: User, token_id: int) -> ApiToken:
    """Delete the token: the next request bearing it is refused, in every process (each
    looks it up afresh), and its open sockets are dropped."""
    row = get_token_for(user=user, token_id=token_id)
    db.session.execute(delete(ApiToken).where(ApiToken.id == row.id))
    publish(signals.sessions_revoked, user_id=user.id, session_ids=[socket_login(row.id)])
    return row


def delete_api_tokens(*, user_id: int) -> list[str]:
    """Delete every token of the user (a helper: flushes only); the socket logins of
    those deleted, for the caller to announce once committed."""
    deleted = db.session.execute(
        delete(ApiToken).where(ApiToken.user_id == user_id).returning(ApiToken.id)
    )
    return [socket_login(token_id) for token_id in deleted.scalars()]


def get_token_for(*, user: User, token_id: int) -> ApiToken:
    """The user's token, or NotFound (also for another user's)."""
    row = owned(ApiToken, token_id, user.id)
    if row is None:
        raise NotFound(
            f"API token {token_id} not found", problem_type=ProblemType.API_TOKEN_NOT_FOUND
        )
    return row


#: A token's grant by its hash, with its owner's name: one query on the unique index.
_BY_HASH = (
    select(
        ApiToken.id,
        ApiToken.user_id,
        User.username,
        ApiToken.scopes,
        ApiToken.expires_at,
        ApiToken.last_used_at,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def find_grant(token: str) -> Grant | None:
    """The grant of ``token`` if it is one of ours and has not been revoked (it may have
    expired: the caller says so). Once the caller accepts it, it calls ``record_use``."""
    if not _SHAPE.fullmatch(token):
        return None
    found = db.session.execute(_BY_HASH, {"token_hash": token_hash(token)}).one_or_none()
    if found is None:
        return None
    scopes = frozenset(found.scopes)
    return Grant(
        found.id, found.user_id, found.username, scopes, found.expires_at, found.last_used_at
    )


def live_socket_logins(socket_logins: set[str]) -> set[str]:
    """Which of these API tokens' socket logins (``socket_login``) are still live: the
    token exists and has not expired. For the sockets' periodic re-check."""
    ids = [int(login.removeprefix(SOCKET_LOGIN_PREFIX)) for login in socket_logins]
    if not ids:
        return set()
    now = utcnow()
    query = select(ApiToken.id).where(
        ApiToken.id.in_(ids), or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)
    )
    return {socket_login(token_id) for token_id in db.session.scalars(query)}


def record_use(grant: Grant) -> None:
    """Record an accepted use of the token (``record_last_use``). A refused call is no use."""
    record_last_use(ApiToken, ApiToken.id == grant.token_id, grant.last_used_at)


def record_last_use(model: Any, which: ColumnElement[bool], last_used_at: datetime | None) -> None:
    """Set ``last_used_at`` of the row ``which`` picks of ``model`` (read as
    ``last_used_at``) to now, at most once a ``LAST_USED_GRANULARITY``: one conditional
    UPDATE, committed at once (before the route runs its own unit of work), that does
    nothing when another request, in any process, recorded a use meanwhile. For the
    calendar feed's token too."""
    now = utcnow()
    cutoff = now - LAST_USED_GRANULARITY
    if last_used_at is not None and last_used_at > cutoff:
        return
    with unit_of_work():
        db.session.execute(
            update(model)
            .where(which)
            .where(or_(model.last_used_at.is_(None), model.last_used_at <= cutoff))
            .values(last_used_at=now)
        )


def _ensure_room(user_id: int) -> None:
    """Conflict when the user holds ``DOABLE_MAX_API_TOKENS_PER_USER`` tokens already."""
    have = count_owned_in_turn(ApiToken, user_id)
    limit = settings().max_api_tokens_per_user
    if have >= limit:
        raise Conflict(
            f"At most {limit} API tokens per user: revoke one you no longer use.",
            problem_type=ProblemType.API_TOKEN_LIMIT_REACHED,
            limit=limit,
        )
