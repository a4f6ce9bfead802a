"""Reading the change feed (docs/api.md, Change feed): a user's changes after a
position, and where their feed stands. Writing it is ``doable.changes.log``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, delete, func, select

from doable.auth.models import User
from doable.changes.models import Change, FeedCursor, FeedEntry, IdempotentRequest
from doable.db import utcnow
from doable.errors import Gone, ProblemType
from doable.extensions import db
from doable.schemas import timestamp
from doable.settings import settings
from doable.unit_of_work import use_case

#: The most changes one ``GET /api/events`` returns.
MAX_EVENTS = 500


@dataclass(frozen=True)
class FeedPage:
    """Changes of a feed after a position, in order: ``next_after`` is the position to
    ask from next (the last one's ``seq``); ``has_more``: there are more already."""

    events: list[dict[str, Any]]
    next_after: int
    has_more: bool


#: A user's feed entries after ``after``, with their changes and who made them; built once.
_EVENTS = (
    select(
        FeedEntry.seq,
        FeedEntry.data,
        Change.id,
        Change.at,
        Change.actor_id,
        User.username,
        Change.entity,
        Change.entity_id,
        Change.task_id,
        Change.action,
        Change.version,
        Change.changes,
    )
    .join(Change, Change.id == FeedEntry.change_id)
    .outerjoin(User, User.id == Change.actor_id)
    .where(
        FeedEntry.user_id == bindparam("user_id", type_=Integer),
        FeedEntry.seq > bindparam("after"),
    )
    .order_by(FeedEntry.seq)
    .limit(bindparam("limit", type_=Integer))
)
_OLDEST = select(func.min(FeedEntry.seq)).where(
    FeedEntry.user_id == bindparam("user_id", type_=Integer)
)
_LAST = select(FeedCursor.last_seq).where(FeedCursor.user_id == bindparam("user_id", type_=Integer))


def read_feed(*, user: User, after: int = 0, limit: int = 100) -> FeedPage:
    """The changes of ``user``'s feed after ``after``, at most ``limit``.

    Gone (410, with ``oldest_seq``) when some of them were pruned, or ``after`` is
    beyond the feed (a client that kept a position across a restored database): the
    client then reads everything again."""
    connection = db.session.connection()
    params = {"user_id": user.id, "after": after, "limit": limit + 1}
    rows = connection.execute(_EVENTS, params).all()
    if not rows or rows[0].seq != after + 1:
        _check_held(user.id, after)
    events = [event_data(row) for row in rows[:limit]]
    next_after = events[-1]["seq"] if events else after
    return FeedPage(events=events, next_after=next_after, has_more=len(rows) > limit)


def feed_position(user_id: int) -> int:
    """The ``seq`` of the user's latest change (0 before the first)."""
    last = db.session.connection().execute(_LAST, {"user_id": user_id}).scalar()
    return int(last or 0)


def _check_held(user_id: int, after: int) -> None:
    """Raise Gone unless every change of the feed after ``after`` is still held."""
    connection = db.session.connection()
    last = feed_position(user_id)
    oldest = connection.execute(_OLDEST, {"user_id": user_id}).scalar()
    oldest = last + 1 if oldest is None else int(oldest)
    if after > last:
        detail = f"Position {after} is beyond your feed, which ends at {last}; reload"
    elif after + 1 < oldest:
        detail = f"Changes after {after} were pruned; the oldest held is {oldest}; reload"
    else:
        return
    raise Gone(
        detail, problem_type=ProblemType.FEED_POSITION_GONE, oldest_seq=oldest, last_seq=last
    )


def event_data(row: Any) -> dict[str, Any]:
    """A feed entry as the API shows it (``EventRead``); ``actor`` is null once the
    account that made the change is deleted (the log outlives it)."""
    actor = None if row.username is None else {"id": row.actor_id, "username": row.username}
    return {
        "seq": row.seq,
        "change_id": row.id,
        "at": timestamp(row.at),
        "actor": actor,
        "entity": {"type": row.entity, "id": row.entity_id},
        "task_id": row.task_id,
        "action": row.action,
        "version": row.version,
        "changes": row.changes,
        **(row.data or {}),
    }


@use_case
def prune(*, now: datetime | None = None) -> tuple[int, int]:
    """Remove changes older than ``DOABLE_CHANGE_RETENTION_DAYS`` (with their feed
    entries) and responses kept for idempotency keys older than
    ``DOABLE_IDEMPOTENCY_KEY_TTL_HOURS``; return how many of each (``doable changes
    prune``).

    Changes go by id, everything before the oldest one kept: each feed loses a run of
    its oldest entries and never one in the middle, so a reader after a pruned position
    is told so (``read_feed``: 410) rather than skipping a hole."""
    now = now or utcnow()
    config = settings()
    cut = now - timedelta(days=config.change_retention_days)
    first_kept = db.session.scalar(select(func.min(Change.id)).where(Change.at >= cut))
    if first_kept is None:
        first_kept = (db.session.scalar(select(func.max(Change.id))) or 0) + 1
    connection = db.session.connection()
    connection.execute(delete(FeedEntry).where(FeedEntry.change_id < first_kept))
    changes = connection.execute(delete(Change).where(Change.id < first_kept)).rowcount
    expired = now - timedelta(hours=config.idempotency_key_ttl_hours)
    keys = connection.execute(
        delete(IdempotentRequest).where(IdempotentRequest.created_at < expired)
    ).rowcount
    return int(changes or 0), int(keys or 0)
