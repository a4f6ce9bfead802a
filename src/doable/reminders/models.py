"""Reminders' schedule, the record of each notice sent (at most once), and digests.

A task's reminders are written on the task (``Task.reminders``, as the API shows them);
``Reminder`` is their schedule: one row per reminder with the instant it next fires,
kept in step by the reminders service whenever the task's due date, time, zone,
recurrence or reminders change, so the worker finds what is due with one indexed read.

``Fire`` is a notice to one user on one channel. Its ``(user_id, key, channel)`` is
unique: however many workers find a reminder due, and whether one of them was killed
halfway, one row is written per reminder, occurrence and channel, and one notice sent.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from doable.changes.models import BigId
from doable.db import UTCDateTime, utcnow
from doable.extensions import db

#: Where a notice goes.
CHANNELS = ("in_app", "email")
#: What a notice is: one reminder, the reminders missed while the service was down
#: (longer than the grace), a daily digest.
KINDS = ("reminder", "missed", "digest")
#: A fire's life: ``pending`` (to send: its email not yet sent), ``sent``, ``missed``
#: (too late: told in a "missed" notice instead), ``failed`` (gave up after retries).
STATUSES = ("pending", "sent", "missed", "failed")


class Reminder(db.Model):  # type: ignore[name-defined]
    """When one of a task's reminders next fires. ``spec``: the reminder as written
    (``PT30M`` for ``before_due``, ``at:2026-03-30T08:00`` for ``at``); ``occurrence``:
    the key of the occurrence that firing belongs to (``tasks.recurrence.occurrence_key``,
    ``at`` for an ``at`` reminder). ``fire_at`` ``None``: nothing left to fire."""

    __tablename__ = "reminder"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("task.id", ondelete="CASCADE"), primary_key=True
    )
    spec: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Whom it reminds: the task's owner.
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    occurrence: Mapped[str | None] = mapped_column(String(32))


Index("ix_reminder_fire_at", Reminder.fire_at)


class Fire(db.Model):  # type: ignore[name-defined]
    """One notice to one user on one channel. ``key`` names what fired:
    ``reminder:<task id>:<occurrence>:<spec>:<when it fires, UTC>``, ``digest:<local date>``,
    ``missed:<the first missed fire's key>``. An email's subject and body are written
    when the fire is claimed, so a retry (or another worker) sends the same message."""

    __tablename__ = "reminder_fire"
    __table_args__ = (
        UniqueConstraint("user_id", "key", "channel"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    #: When it was meant to go.
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    subject: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: A worker sending it holds it until then; after, another may take it over.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


Index("ix_reminder_fire_pending", Fire.status, Fire.lease_until)


class Digest(db.Model):  # type: ignore[name-defined]
    """A user's daily digest (overdue and due today), at ``at`` their local time; no
    row: off (the default). ``next_at``: the instant it is next sent."""

    __tablename__ = "digest"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[time] = mapped_column(Time, nullable=False)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


Index("ix_digest_next_at", Digest.next_at)
