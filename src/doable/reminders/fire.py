"""The worker's reminder step: fire what is due, exactly once (docs/api.md, Reminders
and notifications). ``worker.run_round`` calls ``fire_due``, ``send_digests`` and
``mail.send_emails``, and sleeps no longer than ``next_due_in``.

Firing is one transaction per round: the due ``Reminder`` rows are claimed (on
PostgreSQL ``FOR UPDATE SKIP LOCKED``, so two workers take different rows; SQLite has
one writer at a time), a ``Fire`` row is inserted per channel with ``ON CONFLICT DO
NOTHING`` on its unique ``(user_id, key, channel)``, and each reminder moves on to its
next firing. Only a fire row that was inserted notifies: the in-app notification is
written in the same transaction, and the email waits as a ``pending`` fire with its
subject and body, sent by ``mail.send_emails``. A second worker, a rescheduled
reminder or a worker that died before its commit can therefore never notify twice.
Each reminder fires in a savepoint of its own: one that cannot (its zone unknown to
this worker's tzdata, say) is logged and set aside (no ``fire_at``) while the rest fire;
its task's next write schedules it again.

A reminder due more than ``DOABLE_REMINDER_GRACE`` ago (no worker ran) is not sent late:
its fires are recorded ``missed`` and its user gets one "missed reminders" notice per
round listing them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, not_, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from doable.auth.models import User
from doable.db import lock_database, utcnow
from doable.extensions import db
from doable.notifications import service as notifications
from doable.reminders.models import Digest, Fire, Reminder
from doable.reminders.notices import (
    MAX_LISTED,
    Listed,
    Notice,
    digest_notice,
    missed_notice,
    reminder_notice,
)
from doable.reminders.schedule import next_digest_at, next_fire
from doable.settings import settings
from doable.tasks import recurrence
from doable.tasks.models import Status, Task
from doable.unit_of_work import use_case

log = logging.getLogger(__name__)

_UNIQUE = ["user_id", "key", "channel"]
#: How long a fire record outlives its instant, beyond ``DOABLE_REMINDER_GRACE``: only
#: a fire within the grace can be scheduled again (``schedule.next_fire``'s cutoff, and a
#: reminder moves on past the occurrence it fired), so an older record stops nothing.
FIRE_RETENTION = timedelta(days=30)


def channels(user: User) -> list[str]:
    """The channels the user is told on: in-app and email, as they chose (email only
    when the server can send it)."""
    chosen = ["in_app"] if user.remind_in_app else []
    if user.remind_by_email and settings().smtp_host and user.email:
        chosen.append("email")
    return chosen


def notify(notice: Notice, *, missed: bool = False) -> bool:
    """Record ``notice``'s fire on each of its user's channels, once: in-app written
    now, email queued. ``missed``: recorded as missed, nothing sent. Whether any fire
    was new (False: another worker, or an earlier round, had it already)."""
    new = False
    for channel in channels(notice.user):
        status = "missed" if missed else ("sent" if channel == "in_app" else "pending")
        fire_id = _insert_fire(notice, channel, status)
        if fire_id is None:
            continue
        new = True
        if channel == "in_app" and not missed:
            notifications.create(
                user_id=notice.user.id,
                kind=notice.kind,
                title=notice.title,
                body=notice.body,
                task_id=notice.task_id,
                data={"key": notice.key, **notice.data},
            )
    return new


def _insert_fire(notice: Notice, channel: str, status: str) -> int | None:
    """Insert the fire unless its (user, key, channel) exists; its id, or None."""
    now = utcnow()
    values: dict[str, Any] = {
        "user_id": notice.user.id,
        "key": notice.key,
        "channel": channel,
        "kind": notice.kind,
        "task_id": notice.task_id,
        "scheduled_at": notice.scheduled_at,
        "status": status,
        "subject": notice.title[:300] if channel == "email" else "",
        "body": notice.body if channel == "email" else "",
        "attempts": 0,
        "sent_at": now if status == "sent" else None,
        "created_at": now,
    }
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Fire)
        .values(values)
        .on_conflict_do_nothing(index_elements=_UNIQUE)
        .returning(Fire.id)
    )
    fire_id: int | None = db.session.execute(statement).scalar_one_or_none()
    return fire_id


@use_case
def fire_due(*, limit: int) -> int:
    """Fire up to ``limit`` due reminders, earliest first, and move each on to its next
    firing; how many were claimed."""
    now = utcnow()
    lock_database(db.session)
    due = (
        select(Reminder)
        .where(Reminder.fire_at <= now)
        .order_by(Reminder.fire_at, Reminder.task_id, Reminder.spec)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list(db.session.scalars(due))
    if not claimed:
        return 0
    ids = {reminder.task_id for reminder in claimed}
    tasks = {task.id: task for task in db.session.scalars(select(Task).where(Task.id.in_(ids)))}
    cutoff = now - timedelta(seconds=settings().reminder_grace)
    missed: dict[int, list[Notice]] = defaultdict(list)
    for reminder in claimed:
        task = tasks.get(reminder.task_id)
        if task is None:  # deleted meanwhile: its reminders go with it (ON DELETE CASCADE)
            continue
        try:
            with db.session.begin_nested():
                told_missed = _fire(task, reminder, cutoff)
        except Exception:  # one bad row must not undo, round after round, all the others
            log.exception("task %s: reminder %r cannot fire; set aside", task.id, reminder.spec)
            reminder.occurrence, reminder.fire_at = None, None
            continue
        if told_missed is not None:
            missed[task.user_id].append(told_missed)
    for notices in missed.values():
        notify(missed_notice(notices[0].user, notices))
    return len(claimed)


def _fire(task: Task, reminder: Reminder, cutoff: datetime) -> Notice | None:
    """Notify ``reminder`` (missed when due before ``cutoff``) and move it on to its
    next firing; its notice when it was newly recorded missed."""
    notice = reminder_notice(task, reminder)
    late = reminder.fire_at is not None and reminder.fire_at < cutoff
    new = notify(notice, missed=late)
    following = next_fire(task, reminder.spec, after=reminder.occurrence, cutoff=cutoff)
    reminder.occurrence = following.occurrence if following else None
    reminder.fire_at = following.fire_at if following else None
    return notice if new and late else None


@use_case
def send_digests(*, limit: int) -> int:
    """Send up to ``limit`` due daily digests and move each to its next day; how many
    were due. A day with nothing overdue or due sends nothing."""
    now = utcnow()
    lock_database(db.session)
    due = (
        select(Digest)
        .where(Digest.next_at <= now)
        .order_by(Digest.next_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    digests = list(db.session.scalars(due))
    for digest in digests:
        user = db.session.get(User, digest.user_id)
        assert user is not None  # the digest goes with its user (ON DELETE CASCADE)
        tz = recurrence.zone(user.timezone)
        day = recurrence.local_time(digest.next_at, tz).date()
        overdue, today = _digest_tasks(user, day, now)
        if overdue.count or today.count:
            # Later than the grace (no worker ran): that day's digest is missed, not sent.
            late = digest.next_at < now - timedelta(seconds=settings().reminder_grace)
            notify(digest_notice(user, day, digest.next_at, overdue, today), missed=late)
        digest.next_at = next_digest_at(digest.at, tz, now)
    return len(digests)


def _digest_tasks(user: User, day: date, now: datetime) -> tuple[Listed, Listed]:
    """The user's open tasks overdue at ``now`` and due on their local ``day``, each
    counted and the first ``MAX_LISTED`` listed: a task is overdue once its due time has
    passed, a date alone once its day has."""
    open_due = (
        Task.user_id == user.id,
        Task.status != Status.COMPLETED.value,
        Task.due_date.is_not(None),
    )
    passed = and_(Task.due_time.is_not(None), Task.due_at <= now)
    late = or_(Task.due_date < day, and_(Task.due_date == day, passed))
    today = and_(Task.due_date == day, or_(Task.due_time.is_(None), not_(passed)))
    return _listed(*open_due, late), _listed(*open_due, today)


def _listed(*conditions: Any) -> Listed:
    count = db.session.scalar(select(func.count(Task.id)).where(*conditions)) or 0
    first = select(Task).where(*conditions).order_by(Task.due_date, Task.due_time, Task.id)
    return Listed(count, list(db.session.scalars(first.limit(MAX_LISTED))))


@use_case
def prune_fires(*, limit: int) -> int:
    """Delete up to ``limit`` fire records done with (sent, missed or failed) whose
    instant is ``FIRE_RETENTION`` and the grace in the past; how many."""
    cutoff = utcnow() - FIRE_RETENTION - timedelta(seconds=settings().reminder_grace)
    done = (
        select(Fire.id)
        .where(Fire.status.in_(["sent", "missed", "failed"]), Fire.scheduled_at < cutoff)
        .order_by(Fire.scheduled_at)
        .limit(limit)
    )
    ids = list(db.session.scalars(done))
    if ids:
        db.session.execute(delete(Fire).where(Fire.id.in_(ids)))
    return len(ids)


def next_due_in() -> float | None:
    """Seconds until the earliest reminder, digest or email is due (0: now), or None
    when none is waiting. Ends the session's transaction (the worker sleeps next)."""
    moments = [
        db.session.scalar(select(func.min(Reminder.fire_at, type_=Reminder.fire_at.type))),
        db.session.scalar(select(func.min(Digest.next_at, type_=Digest.next_at.type))),
    ]
    if settings().smtp_host:
        waiting = func.coalesce(Fire.lease_until, Fire.created_at, type_=Fire.created_at.type)
        query = select(func.min(waiting, type_=Fire.created_at.type))
        moments.append(
            db.session.scalar(query.where(Fire.channel == "email", Fire.status == "pending"))
        )
    db.session.rollback()
    found: list[datetime] = [moment for moment in moments if moment is not None]
    if not found:
        return None
    return max((min(found) - utcnow()).total_seconds(), 0.0)
