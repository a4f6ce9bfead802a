"""Notification use cases: writing one (the worker, in its own transaction), a user's
list, its unread count, marking read (docs/api.md, Reminders and notifications).

Writing one also records it in the user's change feed (entity ``notification``), so it
reaches their sockets as a ``notification`` event and ``GET /api/events``. A user keeps
at most ``DOABLE_MAX_NOTIFICATIONS_PER_USER``: the oldest go first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from doable.auth.models import User
from doable.changes.log import Recorded, record
from doable.db import Paged, utcnow
from doable.errors import NotFound, ProblemType
from doable.extensions import db
from doable.notifications.models import Notification
from doable.ownership import owned
from doable.schemas import timestamp
from doable.settings import settings
from doable.unit_of_work import use_case


@dataclass(frozen=True, kw_only=True)
class NotificationPage(Paged):
    notifications: list[Notification]
    unread: int


def notification_data(notification: Notification) -> dict[str, Any]:
    """A notification as the API, its event and the change feed show it."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "task_id": notification.task_id,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "created_at": timestamp(notification.created_at),
        "read_at": timestamp(notification.read_at),
    }


def create(
    *,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    task_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Notification:
    """Add a notification to the user's list in the current unit of work, record it in
    their feed and drop their oldest beyond the limit. Flushes; never commits."""
    notification = Notification(
        user_id=user_id,
        kind=kind,
        title=title[:300],
        body=body,
        task_id=task_id,
        data=data or {},
        created_at=utcnow(),
    )
    db.session.add(notification)
    db.session.flush()
    record(
        Recorded(
            entity="notification",
            entity_id=notification.id,
            action="notification_created",
            changes={"notification": [None, notification_data(notification)]},
            actor_id=None,
            audience={user_id: None},
        )
    )
    _prune(user_id)
    return notification


def _prune(user_id: int) -> None:
    """Keep the user's newest ``max_notifications_per_user``."""
    oldest_kept = (
        select(Notification.id)
        .where(Notification.user_id == user_id)
        .order_by(Notification.id.desc())
        .offset(settings().max_notifications_per_user - 1)
        .limit(1)
        .scalar_subquery()
    )
    db.session.execute(
        delete(Notification).where(Notification.user_id == user_id, Notification.id < oldest_kept)
    )


def list_notifications(
    *, user: User, page: int = 1, per_page: int = 10, unread: bool | None = None
) -> NotificationPage:
    """One page of the user's notifications, newest first; ``unread``: only the unread
    (True) or the read (False)."""
    wanted = [Notification.user_id == user.id]
    if unread is not None:
        wanted.append(
            Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None)
        )
    total = db.session.scalar(select(func.count()).where(*wanted)) or 0
    found: list[Notification] = []
    if (page - 1) * per_page < total:
        query = (
            select(Notification)
            .where(*wanted)
            .order_by(Notification.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        found = list(db.session.scalars(query))
    return NotificationPage(
        notifications=found,
        unread=unread_count(user=user),
        total=total,
        page=page,
        per_page=per_page,
    )


def unread_count(*, user: User | int) -> int:
    """How many of the user's notifications are unread (one indexed COUNT)."""
    user_id = user if isinstance(user, int) else user.id
    query = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return db.session.scalar(query) or 0


@use_case
def mark_read(*, user: User, ids: list[int]) -> list[Notification]:
    """Mark the user's notifications ``ids`` read (already read: unchanged); NotFound
    when one of them is not theirs."""
    marked = []
    for notification_id in ids:
        notification = owned(Notification, notification_id, user.id)
        if notification is None:
            raise NotFound(
                f"Notification {notification_id} not found",
                problem_type=ProblemType.NOTIFICATION_NOT_FOUND,
            )
        if notification.read_at is None:
            notification.read_at = utcnow()
        marked.append(notification)
    return marked


@use_case
def mark_all_read(*, user: User) -> int:
    """Mark every unread notification of the user read; how many were."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
