from __future__ import annotations

from datetime import date, datetime, time
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Row,
    SmallInteger,
    String,
    Text,
    Time,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship, with_expression

from doable.auth.models import User
from doable.categories.models import Category, task_category
from doable.db import TimestampMixin, UTCDateTime, utcnow
from doable.extensions import db
from doable.tasks import recurrence


class Status(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class Priority(IntEnum):
    """Stored as a number so that sorting by priority is sorting by rank."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Priority:
        return cls[label.upper()]


class Task(TimestampMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'in_progress', 'completed')", name="status_valid"),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority_valid"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=Status.PENDING.value)
    priority: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=Priority.MEDIUM)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: The local time of day it is due (only with a due date), in ``timezone``.
    due_time: Mapped[time | None] = mapped_column(Time, nullable=True)
    #: The IANA zone its due date and time are in; ``None``: its owner's zone.
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The instant it is due (UTC): its due date at ``due_time`` (or 00:00) in its zone,
    #: kept in step by the tasks service whenever either or the zone changes.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: An RRULE (``tasks.recurrence.parse_rule``) and its mode; both or neither.
    recurrence_rule: Mapped[str | None] = mapped_column(String(500), nullable=True)
    recurrence_mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    #: The local wall time its series starts from (DTSTART); set with the rule, and
    #: again whenever the due date, time or rule is changed by hand.
    recurrence_anchor: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: ``[{"before_due": "PT30M"} | {"at": "2026-03-30T08:00"}]``, as the API shows
    #: them; their schedule is ``reminders.models.Reminder``.
    reminders: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    #: Bumped on every write; UPDATEs check it, so two racing writes cannot both win.
    version: Mapped[int] = mapped_column(nullable=False)

    owner: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    #: Written through this relationship; read through ``category_names``. Deleting a
    #: task leaves its ``task_category`` rows to the database's ON DELETE CASCADE
    #: (``passive_deletes``) rather than loading them first.
    categories: Mapped[list[Category]] = relationship(
        secondary="task_category", passive_deletes=True
    )
    #: The names of the task's categories joined by ``CATEGORY_SEPARATOR``, computed in
    #: the statement that loads the task (``READ_TASK``): no extra query per page.
    category_names: Mapped[str | None] = query_expression()
    #: The caller's right on this task ("owner", "edit", "view"), computed in SQL by
    #: the access rule (``tasks.access``); never stored.
    access: Mapped[str | None] = query_expression()

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.title!r}>"

    #: The zone of whoever the task was read for (``access.READ_TASK``): their
    #: "overdue"; ``None`` (read otherwise): its owner's zone.
    viewer_zone: Mapped[str | None] = query_expression()

    @property
    def overdue(self) -> bool:
        """Past due and not completed, as its viewer (``viewer_zone``) lives it: a task
        with a due time once that instant has passed, one with a date alone once the
        viewer's local date is past it."""
        return is_overdue(self, self.viewer_zone or self.owner.timezone)


def is_overdue(task: Any, zone_name: str, now: datetime | None = None) -> bool:
    """Whether ``task`` (a ``Task`` or a row of its names) is overdue for a viewer in
    ``zone_name`` at ``now`` (default: now): the rule ``service._LATE`` puts in SQL."""
    if task.due_date is None or task.status == Status.COMPLETED:
        return False
    now = now or utcnow()
    if task.due_time is not None and task.due_at is not None:
        return bool(task.due_at < now)
    return bool(task.due_date < recurrence.today_in(recurrence.zone(zone_name), now))


class TaskCount(db.Model):  # type: ignore[name-defined]
    """How many tasks each user owns, kept in step by the tasks service in the
    transaction of every create and delete, so the total of an unfiltered list is one
    row read instead of a count that grows with the user's tasks. A missing row means
    "not known yet": readers fall back to counting."""

    __tablename__ = "task_count"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    owned: Mapped[int] = mapped_column(nullable=False)


# One index per list shape: each starts with the owner, so no query reads other users' rows,
# and ends with id, the tie-breaker of every sort.
Index("ix_task_user_created", Task.user_id, Task.created_at, Task.id)
Index("ix_task_user_updated", Task.user_id, Task.updated_at, Task.id)
Index("ix_task_user_due", Task.user_id, Task.due_date, Task.id)
Index("ix_task_user_priority", Task.user_id, Task.priority, Task.id)
Index("ix_task_user_title_lower", Task.user_id, func.lower(Task.title), Task.id)
Index(
    "ix_task_user_status_priority",
    Task.user_id,
    Task.status,
    Task.priority,
    Task.created_at,
    Task.id,
)


CATEGORY_SEPARATOR = "\x1f"
#: The names of the task's categories joined by ``CATEGORY_SEPARATOR``, NULL if none:
#: ``Task.category_names`` as a loader option, or a column of a Core statement.
CATEGORY_NAMES = (
    select(func.aggregate_strings(Category.name, CATEGORY_SEPARATOR))
    .join(task_category, task_category.c.category_id == Category.id)
    .where(task_category.c.task_id == Task.id)
    .scalar_subquery()
)
WITH_CATEGORY_NAMES = with_expression(Task.category_names, CATEGORY_NAMES)


def category_names(task: Task | Row[Any]) -> list[str]:
    """The task's category names, sorted ignoring case."""
    return (
        sorted((task.category_names or "").split(CATEGORY_SEPARATOR), key=str.lower)
        if (task.category_names)
        else []
    )
