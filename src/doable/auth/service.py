"""Account and session use cases. Each public write is one unit of work."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any, TypedDict, Unpack

from sqlalchemy import ColumnElement, select, update

from doable import signals
from doable.api_tokens.service import delete_api_tokens
from doable.attachments.service import stored_files
from doable.auth.models import AuthSession, User, fold
from doable.auth.passwords import hash_password, needs_rehash, verify_password
from doable.auth.throttle import claim_login_attempt, forget_login_failures
from doable.auth.tokens import TokenPair, issue_tokens, new_jti, read_refresh_token
from doable.changes.log import record_task
from doable.db import utcnow
from doable.errors import Conflict, ProblemType, Unauthorized, ValidationFailed
from doable.extensions import db
from doable.reminders import schedule
from doable.settings import settings
from doable.sharing.models import Share
from doable.tasks.access import READ_TASK, sharees_of_tasks_owned_by, viewer
from doable.tasks.models import Task
from doable.tasks.recurrence import ZONES
from doable.tasks.service import owner_zone_changed, record_deleted
from doable.unit_of_work import on_conflict, publish, use_case

INVALID_CREDENTIALS = "Invalid credentials"
_REGISTERED = "Username or email is already registered"


class Preferences(TypedDict, total=False):
    """An account's time, reminder and appearance settings, each one optional
    (``update_preferences``)."""

    timezone: str
    remind_in_app: bool
    remind_by_email: bool
    digest_at: time | None
    theme: str


@use_case
def register_user(*, username: str, email: str, password: str, timezone: str | None = None) -> User:
    """A new account, in ``timezone`` if one is given (then it counts as chosen), else on
    UTC until a web login brings the browser's (``open_session``)."""
    _ensure_available(username=username, email=email)
    user = User(
        username=username,
        email=email,
        password_hash=hash_password(password),
        timezone=timezone or "UTC",
        zone_chosen=timezone is not None,
    )
    db.session.add(user)
    on_conflict(Conflict(_REGISTERED))
    return user


def login(*, password: str, email: str | None = None, username: str | None = None) -> TokenPair:
    """Check the credentials and open a session; the same answer whether or not the user
    exists (but for an account slowed down by failed logins: 429)."""
    return issue_tokens(session=open_session(password=password, email=email, username=username))


@use_case
def open_session(
    *,
    password: str,
    email: str | None = None,
    username: str | None = None,
    browser_zone: str | None = None,
) -> AuthSession:
    """Check the credentials and record a new login session (API tokens and web cookies
    both hang off one): revoking it ends that login everywhere.

    An account that never chose its zone adopts ``browser_zone`` (the zone a web login
    reports) if Doable knows it, as a preference change would set it."""
    user = find_user(email=email, username=username)
    if user is not None:
        claim_login_attempt(user)  # an account that failed too often must wait first
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized(INVALID_CREDENTIALS, problem_type=ProblemType.INVALID_CREDENTIALS)
    if needs_rehash(user.password_hash):  # first: no write may hold SQLite's lock meanwhile
        user.password_hash = hash_password(password)
    if not user.zone_chosen and browser_zone in ZONES:
        _set_preferences(user, {"timezone": browser_zone})
    forget_login_failures(user)
    return _new_session(user)


@use_case
def open_session_for(*, user: User) -> AuthSession:
    """Record a new login session for a user whose password was just checked or set
    (registering, changing it): without hashing it a second time."""
    return _new_session(user)


def _new_session(user: User) -> AuthSession:
    session = AuthSession(
        id=uuid.uuid4().hex, user_id=user.id, refresh_jti=new_jti(), expires_at=_refresh_expiry()
    )
    db.session.add(session)
    return session


def refresh(*, refresh_token: str) -> TokenPair:
    """Rotate a refresh token. Presenting a rotated one revokes its whole session."""
    claims = read_refresh_token(refresh_token)
    if not _rotate(session_id=claims["sid"], jti=claims["jti"]):
        raise Unauthorized(
            "Refresh token has been revoked or already used",
            problem_type=ProblemType.INVALID_TOKEN,
        )
    session = db.session.get(AuthSession, claims["sid"])
    assert session is not None
    return issue_tokens(session=session)


@use_case
def _rotate(*, session_id: str, jti: str) -> bool:
    """Give the session a new refresh token id; if ``jti`` is not its current one (a
    rotated token presented again), revoke the session instead (committed either way)."""
    rotated = db.session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.refresh_jti == jti)
        .where(AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow())
        .values(refresh_jti=new_jti(), expires_at=_refresh_expiry())
    )
    if rotated.rowcount == 1:  # type: ignore[attr-defined]
        return True
    _announce(_revoke_sessions(AuthSession.id == session_id))
    return False


@use_case
def logout(*, session_id: str) -> None:
    _announce(_revoke_sessions(AuthSession.id == session_id))


@use_case
def update_account(
    *,
    user: User,
    current_password: str,
    email: str | None = None,
    password: str | None = None,
    revoke_api_tokens: bool = False,
    **preferences: Unpack[Preferences],
) -> User:
    """Change email and/or password (and any ``preferences`` with them). A new password
    ends every login session of the user; their personal API tokens keep working unless
    ``revoke_api_tokens`` (sign out everywhere): a script's token is not a login."""
    on_conflict(Conflict(_REGISTERED))  # first: the writes below flush the new email
    _check_current_password(user, current_password)
    _set_preferences(user, preferences)
    if email is not None:
        if fold(email) != user.email_key:
            _ensure_available(email=email)
        user.email = email
    revoked: list[tuple[int, str]] = []
    if password is not None:
        user.password_hash = hash_password(password)
        revoked = _revoke_sessions(AuthSession.user_id == user.id)
        if revoke_api_tokens:
            revoked += [(user.id, login) for login in delete_api_tokens(user_id=user.id)]
    forget_login_failures(user)  # last: its write holds SQLite's lock until the commit
    _announce(revoked)
    return user


@use_case
def update_preferences(*, user: User, **preferences: Unpack[Preferences]) -> User:
    """Change the account's zone, reminder channels, digest time or theme: no password
    needed, nothing here gives the account away. A new zone moves the ``due_at`` of the
    tasks that follow it, their reminders and the digest."""
    _set_preferences(user, preferences)
    return user


def _set_preferences(user: User, preferences: Preferences) -> None:
    zone_changed = preferences.get("timezone", user.timezone) != user.timezone
    user.timezone = preferences.get("timezone", user.timezone)
    user.zone_chosen = user.zone_chosen or "timezone" in preferences
    user.theme = preferences.get("theme", user.theme)
    user.remind_in_app = preferences.get("remind_in_app", user.remind_in_app)
    user.remind_by_email = preferences.get("remind_by_email", user.remind_by_email)
    digest_at = preferences.get("digest_at", user.digest_at)
    if zone_changed:
        db.session.flush()  # the tasks service reads the new zone from the database
        owner_zone_changed(user.id)
    if zone_changed or digest_at != user.digest_at:
        schedule.set_digest(user.id, digest_at)
        db.session.expire(user, ["digest"])


@use_case
def delete_account(*, user: User, current_password: str) -> None:
    """Delete the user; everything they own goes with them (foreign keys cascade). Like
    changing the email or password, it takes the current password: a stolen token or an
    unattended browser is not enough to destroy the account. Once that commits, the
    sharees of their tasks are told the tasks went, and the tasks' files are removed.

    The change log records what the deletion did to others (``_record_departure``)."""
    _check_current_password(user, current_password)
    sharees = sharees_of_tasks_owned_by(user.id)
    _record_departure(user, sharees)
    publish(signals.files_released, storage_keys=stored_files(owner_id=user.id))
    db.session.delete(user)
    publish(signals.sessions_revoked, user_id=user.id, session_ids=None)


def _record_departure(user: User, sharees: dict[int, list[int]]) -> None:
    """Log, before they go, what deleting ``user`` does to the others: each of their
    tasks that was shared is ``deleted`` for its sharees (as ``delete_task`` logs it),
    and each task shared with them is ``unshared`` for its owner (as
    ``sharing.service.unshare_task`` logs a sharee leaving). The user's own feed goes
    with the account."""
    if sharees:
        shown = select(Task).where(Task.id.in_(sorted(sharees))).options(*READ_TASK)
        for task in db.session.scalars(shown, viewer(user)):
            record_deleted(user, task, sharees[task.id])
    named = {"id": user.id, "username": user.username}
    left = select(Task.id, Task.version, Task.user_id, Share.permission).join(
        Share, Share.task_id == Task.id
    )
    for task_id, version, owner_id, permission in db.session.execute(
        left.where(Share.user_id == user.id).order_by(Task.id)
    ):
        changes: dict[str, list[Any]] = {
            "shared_with": [named, None],
            "permission": [permission, None],
        }
        record_task(
            task_id, version, "unshared", changes, actor_id=user.id, audience={owner_id: None}
        )


def find_user(*, email: str | None = None, username: str | None = None) -> User | None:
    # Compared folded (``fold``), as the unique indexes compare them.
    if email is not None:
        condition = User.email_key == fold(email)
    else:
        condition = User.username_key == fold(username or "")
    return db.session.execute(select(User).where(condition)).scalar_one_or_none()


def _check_current_password(user: User, current_password: str) -> None:
    """A password check like a login's: counted against the account the same way."""
    claim_login_attempt(user)
    if not verify_password(user.password_hash, current_password):
        raise ValidationFailed({"current_password": ["Current password is incorrect."]})


def _refresh_expiry() -> datetime:
    return utcnow() + timedelta(seconds=settings().refresh_token_ttl)


def _revoke_sessions(condition: ColumnElement[bool]) -> list[tuple[int, str]]:
    """Revoke the live sessions matching ``condition``; return (user id, session id) of each."""
    revoked = db.session.execute(
        update(AuthSession)
        .where(condition, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(AuthSession.user_id, AuthSession.id)
    )
    return [(user_id, session_id) for user_id, session_id in revoked]


def _announce(revoked: list[tuple[int, str]]) -> None:
    """Once committed: tell listeners (open sockets) which logins just ended."""
    by_user: dict[int, list[str]] = {}
    for user_id, session_id in revoked:
        by_user.setdefault(user_id, []).append(session_id)
    for user_id, session_ids in by_user.items():
        publish(signals.sessions_revoked, user_id=user_id, session_ids=session_ids)


def _ensure_available(*, username: str | None = None, email: str | None = None) -> None:
    if username is not None and find_user(username=username):
        taken = f"Username '{username}' is already taken"
        raise Conflict(taken, problem_type=ProblemType.USERNAME_TAKEN, errors={"username": [taken]})
    if email is not None and find_user(email=email):
        taken = f"Email '{email}' is already registered"
        raise Conflict(taken, problem_type=ProblemType.EMAIL_TAKEN, errors={"email": [taken]})
