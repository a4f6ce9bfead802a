"""When reminders and digests fire: kept in step with the tasks and users they belong to.

The tasks service calls ``reschedule_task`` in the unit of work of every write that
changes a task's due date, time, zone, recurrence, reminders or status (an occurrence
completed or skipped included); the accounts service calls ``reschedule_owner`` when a
user's zone changes and ``set_digest`` when their digest time does. None of them
commits: they write in the caller's transaction.

A reminder fires for one occurrence of its task at a time (``Reminder.occurrence``):
the task's current one, or for a recurring task a later one once the worker has fired
the current one (``next_fire``). An instant more than ``DOABLE_REMINDER_GRACE`` in the
past is never scheduled: it would only be told as missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from doable.auth.models import User
from doable.db import utcnow
from doable.extensions import db
from doable.reminders.models import Digest, Reminder
from doable.settings import settings
from doable.tasks import recurrence, timing
from doable.tasks.models import Status, Task

log = logging.getLogger(__name__)

#: ``Reminder.occurrence`` of an ``at`` reminder: it fires once, whatever the series.
AT = "at"
#: ``Reminder.spec``'s length: longer is no reminder the API accepts.
MAX_SPEC = 40
#: How far a recurring reminder looks for its next occurrence (a daily rule: 3 years).
MAX_LOOKAHEAD = 1000


@dataclass(frozen=True)
class Next:
    """A reminder's next firing: the occurrence it belongs to and when it goes (UTC)."""

    occurrence: str
    fire_at: datetime


def spec_of(reminder: dict[str, str]) -> str | None:
    """How ``Reminder.spec`` names a reminder as the task holds it: ``PT30M`` for
    ``{"before_due": "PT30M"}``, ``at:2026-03-30T08:00`` for ``{"at": ...}``."""
    if "before_due" in reminder:
        return str(reminder["before_due"])
    if "at" in reminder:
        return f"{AT}:{reminder['at']}"
    return None


def task_zone(task: Task) -> ZoneInfo:
    """The zone the task's times are in: its own, else its owner's."""
    return recurrence.zone(task.timezone or task.owner.timezone)


def next_fire(task: Task, spec: str, *, after: str | None, cutoff: datetime) -> Next | None:
    """The reminder ``spec``'s next firing at or after ``cutoff`` (UTC): for the task's
    current occurrence or a later one, and after the occurrence ``after`` when given
    (the one just fired). None: nothing left (completed, no due date, past, ended).

    A reminder that cannot be computed (a time beyond the calendar's range) never
    fires: it must neither fail the write that scheduled it nor every worker round."""
    if task.status == Status.COMPLETED.value:
        return None
    try:
        return _next_fire(task, spec, after=after, cutoff=cutoff)
    except (ValueError, OverflowError):
        log.warning("task %s: reminder %r cannot be scheduled", task.id, spec, exc_info=True)
        return None


def _next_fire(task: Task, spec: str, *, after: str | None, cutoff: datetime) -> Next | None:
    tz = task_zone(task)
    if spec.startswith(f"{AT}:"):
        fire_at = recurrence.instant(recurrence.local_moment(spec[len(AT) + 1 :]), tz)
        return Next(AT, fire_at) if after is None and fire_at >= cutoff else None
    if task.due_date is None:
        return None
    before = recurrence.duration(spec)
    start = recurrence.due_moment(task.due_date, task.due_time)
    if after is not None:
        start = max(start, recurrence.key_moment(after) + timedelta(microseconds=1))
    # The first occurrence whose instant, less the reminder's lead, is not before the cutoff.
    start = max(start, recurrence.local_time(cutoff + before, tz) - timedelta(days=1))
    for local in islice(timing.occurrences(task, tz, start), MAX_LOOKAHEAD):
        fire_at = recurrence.instant(local, tz) - before
        if fire_at >= cutoff:
            return Next(recurrence.occurrence_key(local, task.due_time is not None), fire_at)
    return None


def reschedule_task(task_id: int) -> None:
    """Make the task's ``Reminder`` rows match its reminders, each firing at its next
    instant for the task's current occurrence (none once it is completed)."""
    # As written in this transaction: the tasks service writes rows, not this object.
    task = db.session.get(Task, task_id, populate_existing=True)
    rows = {
        row.spec: row
        for row in db.session.scalars(select(Reminder).where(Reminder.task_id == task_id))
    }
    wanted: list[str] = []
    for reminder in (task.reminders or []) if task is not None else []:
        spec = spec_of(reminder)
        if spec is not None and len(spec) <= MAX_SPEC and spec not in wanted:
            wanted.append(spec)
    for spec, row in rows.items():
        if spec not in wanted:
            db.session.delete(row)
    if task is None:
        return
    cutoff = utcnow() - timedelta(seconds=settings().reminder_grace)
    for spec in wanted:
        row = rows.get(spec) or Reminder(task_id=task_id, spec=spec, user_id=task.user_id)
        found = next_fire(task, spec, after=None, cutoff=cutoff)
        row.user_id = task.user_id
        row.occurrence = found.occurrence if found else None
        row.fire_at = found.fire_at if found else None
        db.session.add(row)
    db.session.flush()


def reschedule_owner(user_id: int) -> None:
    """Recompute the user's reminders and digest after their zone changed (their tasks'
    ``due_at`` already recomputed by the tasks service)."""
    tasks = db.session.scalars(
        select(Reminder.task_id).where(Reminder.user_id == user_id).distinct()
    ).all()
    for task_id in tasks:
        reschedule_task(task_id)
    digest = db.session.get(Digest, user_id)
    if digest is not None:
        set_digest(user_id, digest.at)


def set_digest(user_id: int, at: time | None) -> None:
    """Send the user a daily digest at ``at`` their local time; ``None``: no digest."""
    if at is None:
        db.session.execute(delete(Digest).where(Digest.user_id == user_id))
        return
    user = db.session.get(User, user_id)
    if user is None:
        return
    digest = db.session.get(Digest, user_id) or Digest(user_id=user_id)
    digest.at = at
    digest.next_at = next_digest_at(at, recurrence.zone(user.timezone), utcnow())
    db.session.add(digest)
    db.session.flush()


def next_digest_at(at: time, tz: ZoneInfo, now: datetime) -> datetime:
    """The first instant after ``now`` that is ``at`` local time in ``tz`` (a time the
    day skips moves forward by the gap: ``recurrence.instant``)."""
    day = recurrence.today_in(tz, now)
    for offset in range(3):
        moment = recurrence.instant(datetime.combine(day + timedelta(days=offset), at), tz)
        if moment > now:
            return moment
    raise AssertionError("unreachable: a local time recurs within two days")
