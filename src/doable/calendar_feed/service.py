"""Calendar feed use cases: make (the token shown once), read, revoke; find the feed a
presented token opens; and the tasks it shows.

A feed token is ``dcal_`` and ``secrets.token_urlsafe(32)`` (256 random bits). As for
API tokens, only its HMAC-SHA256 under the app's API token key is stored
(``api_tokens.service.token_hash``), so the lookup is one query on a unique index:
nothing about a wrong token is learnt from how long the answer takes. A user has one
feed; making a new one replaces (revokes) the old.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, or_, select

from doable.api_tokens.service import record_last_use, token_hash
from doable.auth.models import User
from doable.calendar_feed.models import CalendarFeed
from doable.db import begin_write, utcnow
from doable.errors import NotFound, ProblemType
from doable.extensions import db
from doable.tasks.access import VIEWER, visible_branches
from doable.tasks.models import CATEGORY_NAMES, Status, Task
from doable.unit_of_work import use_case

FEED_PREFIX = "dcal_"
#: ``dcal_`` and what ``secrets.token_urlsafe(32)`` makes: 43 URL-safe characters.
_SHAPE = re.compile(f"{FEED_PREFIX}[A-Za-z0-9_-]{{43}}")
#: How much of a token the account page shows: ``dcal_`` and 8 random characters.
PREFIX_LENGTH = 13
#: The most events a feed holds: the tasks due soonest (calendar apps choke on more,
#: and a feed is fetched whole on every poll).
MAX_EVENTS = 2000


@dataclass(frozen=True)
class IssuedFeed:
    """A feed just made: its row, and the token itself, shown this once."""

    row: CalendarFeed
    token: str


@dataclass(frozen=True, slots=True)
class FeedOwner:
    """Whose feed a presented token opens."""

    user_id: int
    username: str
    last_used_at: datetime | None


def new_token() -> str:
    return FEED_PREFIX + secrets.token_urlsafe(32)


@use_case
def create_feed(*, user: User) -> IssuedFeed:
    """Make the user's feed, replacing the one they had: its URL stops working at once.
    Makers for one user take turns (their user row's lock), so the last one's stands."""
    begin_write(db.session, select(User.id).where(User.id == user.id))
    token = new_token()
    db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    row = CalendarFeed(
        user_id=user.id,
        prefix=token[:PREFIX_LENGTH],
        token_hash=token_hash(token),
        created_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return IssuedFeed(row, token)


def find_feed(*, user: User) -> CalendarFeed | None:
    return db.session.get(CalendarFeed, user.id)


def get_feed(*, user: User) -> CalendarFeed:
    """The user's feed, or NotFound when they have none."""
    row = find_feed(user=user)
    if row is None:
        raise _not_found()
    return row


@use_case
def revoke_feed(*, user: User) -> None:
    """Delete the user's feed (NotFound when there is none): its URL stops working."""
    deleted = db.session.execute(
        delete(CalendarFeed).where(CalendarFeed.user_id == user.id).returning(CalendarFeed.user_id)
    )
    if deleted.first() is None:
        raise _not_found()


#: A feed's owner by the token's hash: one query on the unique index.
_BY_HASH = (
    select(CalendarFeed.user_id, User.username, CalendarFeed.last_used_at)
    .join(User, User.id == CalendarFeed.user_id)
    .where(CalendarFeed.token_hash == bindparam("token_hash"))
)


def open_feed(token: str) -> FeedOwner:
    """Whose feed ``token`` opens, its use recorded; NotFound for anything else (a token
    never made, revoked, replaced, or not even of the right shape)."""
    found = None
    if _SHAPE.fullmatch(token):
        found = db.session.execute(_BY_HASH, {"token_hash": token_hash(token)}).one_or_none()
    if found is None:
        raise _not_found()
    owner = FeedOwner(found.user_id, found.username, found.last_used_at)
    record_last_use(CalendarFeed, CalendarFeed.user_id == owner.user_id, owner.last_used_at)
    return owner


#: The tasks a feed shows: those its owner can see (the tasks' access rule: owned, then
#: shared with them), with a due date, not completed; the soonest due first. Each with
#: its owner's zone (a task without a zone of its own is in its owner's).
_FEED_TASKS = (
    select(
        Task.id,
        Task.title,
        Task.description,
        Task.due_date,
        Task.due_time,
        Task.timezone,
        User.timezone.label("owner_zone"),
        Task.recurrence_rule,
        Task.recurrence_anchor,
        Task.reminders,
        CATEGORY_NAMES.label("category_names"),
        Task.created_at,
        Task.updated_at,
        Task.version,
    )
    .join(User, User.id == Task.user_id)
    .where(
        or_(*(branch.condition for branch in visible_branches())),
        Task.due_date.is_not(None),
        Task.status != Status.COMPLETED,
    )
    .order_by(Task.due_date, Task.id)
    .limit(bindparam("most"))
)


def feed_tasks(*, user_id: int, most: int = MAX_EVENTS) -> list[Row[Any]]:
    """The tasks the feed of ``user_id`` shows, at most ``most`` (the viewer is known by
    the feed's token, not a login: its id is bound as the access rule's ``VIEWER``)."""
    params = {VIEWER.key: user_id, "most": most}
    return list(db.session.connection().execute(_FEED_TASKS, params))


def _not_found() -> NotFound:
    return NotFound(
        "No calendar feed at this address", problem_type=ProblemType.CALENDAR_FEED_NOT_FOUND
    )
