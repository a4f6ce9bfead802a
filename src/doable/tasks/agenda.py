"""The task views beside All: Today (due today or overdue) and Upcoming (due in the
seven days after today), in the viewer's zone, and how many tasks each holds.

Each is the list's own due-day rule (``service.due_between``: the ``due_before`` and
``due_after`` filters, reckoned in the viewer's zone) over the tasks the viewer can
see (``access.visible_branches``), completed ones left out: a view lists what is left
to do, so a task ticked done leaves Today (the page that ticked it keeps its row until
it is reloaded). "Due on or before today" is "overdue or due today": an overdue task
is due on a day before today, or earlier today.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, bindparam, func, or_, select

from doable.auth.models import User
from doable.extensions import db
from doable.tasks import recurrence, service
from doable.tasks.access import READ_TASK, viewer, visible_branches
from doable.tasks.models import Status, Task

#: Days after today that Upcoming covers.
UPCOMING_DAYS = 7
#: The most tasks a view shows at once (the rest: All, with its filters and pages).
SHOWN = 200


@dataclass(frozen=True)
class Day:
    """The tasks of one day of Upcoming."""

    day: date
    tasks: list[Task]


@dataclass(frozen=True)
class View:
    """What a view lists: ``tasks`` (at most ``SHOWN``, in due order) of ``total``, as
    of ``today`` (the viewer's date)."""

    today: date
    tasks: list[Task]
    total: int

    def days(self, tz: ZoneInfo) -> list[Day]:
        """The tasks by the day they are due in ``tz``, in order."""
        grouped: dict[date, list[Task]] = {}
        for task in self.tasks:
            grouped.setdefault(due_day(task, tz), []).append(task)
        return [Day(day, tasks) for day, tasks in sorted(grouped.items())]


@dataclass(frozen=True)
class Counts:
    today: int
    upcoming: int


def due_day(task: Task, tz: ZoneInfo) -> date:
    """The day in ``tz`` a task is due: that of its due instant if it has a time."""
    assert task.due_date is not None
    if task.due_time is not None and task.due_at is not None:
        return recurrence.local_time(task.due_at, tz).date()
    return task.due_date


def _today_days(today: date) -> dict[str, date]:
    return {"due_before": today}


def _upcoming_days(today: date) -> dict[str, date]:
    return {
        "due_after": today + timedelta(days=1),
        "due_before": today + timedelta(days=UPCOMING_DAYS),
    }


def list_today(*, user: User) -> View:
    """The tasks ``user`` can see due today or overdue, not completed, oldest due first."""
    return _view(user, _today_days)


def list_upcoming(*, user: User) -> View:
    """The tasks ``user`` can see due in the seven days after today, not completed."""
    return _view(user, _upcoming_days)


def count_views(*, user: User) -> Counts:
    """How many tasks Today and Upcoming hold: two statements, each counting the
    viewer's own tasks and those shared with them."""
    today = service.today_of(user)
    return Counts(_count(user, _today_days(today)), _count(user, _upcoming_days(today)))


def _view(user: User, days: Callable[[date], dict[str, date]]) -> View:
    today = service.today_of(user)
    conditions, params = _conditions(user, days(today))
    params.update(viewer(user), shown=SHOWN)
    tasks = list(db.session.scalars(_LISTING.where(*conditions), params))
    total = len(tasks) if len(tasks) < SHOWN else _count(user, days(today))
    return View(today, tasks, total)


def _conditions(user: User, days: dict[str, date]) -> tuple[list[ColumnElement[bool]], Any]:
    """The tasks due on ``days`` (the list's rule, in ``user``'s zone), not completed."""
    conditions, params = service.due_between(user, **days)
    return [Task.status != Status.COMPLETED, *conditions], params


def _count(user: User, days: dict[str, date]) -> int:
    conditions, params = _conditions(user, days)
    params.update(viewer(user))
    counts = [
        select(func.count()).select_from(Task).where(branch.condition, *conditions)
        for branch in visible_branches("all")
    ]
    row = db.session.connection().execute(select(*(c.scalar_subquery() for c in counts)), params)
    return sum(row.one())


#: A view's tasks read for the viewer, in due order (by date; on one date, a task due
#: on the date alone before one due at a time); the caller adds which tasks. A task's
#: due date is at most a day from the viewer's date of its due instant, so the order
#: of a timed task in another zone is at most a day off; ``View.days`` regroups them.
_LISTING = (
    select(Task)
    .options(*READ_TASK)
    .where(or_(*(branch.condition for branch in visible_branches("all"))))
    .order_by(Task.due_date, Task.due_time.is_not(None), Task.due_at, Task.id)
    .limit(bindparam("shown", type_=Integer))
)
