"""What a reminder, a missed-reminders notice and a digest say: one ``Notice`` each,
the same words in the in-app list and in the email. Times are printed as the user
lives them: local, with the zone's name ("Due Mon 30 Mar 2026 09:00 (Europe/Berlin)").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from doable.auth.models import User
from doable.reminders.models import Reminder
from doable.reminders.schedule import AT, task_zone
from doable.schemas import timestamp
from doable.settings import settings
from doable.tasks import recurrence
from doable.tasks.models import Task

#: The most tasks a digest or a missed notice lists (the rest are counted).
MAX_LISTED = 50
#: A run of white space or control characters (line breaks and separators among them),
#: which a title written on one line, an email's subject, cannot hold.
_BREAKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def one_line(text: str) -> str:
    """``text`` on one line: each run of white space or control characters one space."""
    return _BREAKS.sub(" ", text).strip()


@dataclass(frozen=True, kw_only=True)
class Notice:
    """One notice to one user: ``key`` names it in the fire records (``Fire.key``)."""

    user: User
    key: str
    kind: str
    title: str
    body: str
    scheduled_at: datetime
    task_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


def local_text(local: datetime, zone_name: str, *, timed: bool = True) -> str:
    """``Mon 30 Mar 2026 09:00 (Europe/Berlin)``; without the time for a date alone."""
    shown = local.strftime("%a %d %b %Y %H:%M" if timed else "%a %d %b %Y")
    return f"{shown} ({zone_name})"


def _task_link(task_id: int) -> str:
    base = settings().public_url.rstrip("/")
    return f"\n\n{base}/tasks/{task_id}" if base else ""


def _due_line(task: Task, occurrence: str | None) -> tuple[str, dict[str, Any]]:
    """ "Due ..." for the occurrence (an ``at`` reminder: the task's current one)."""
    if occurrence is None or occurrence == AT:
        if task.due_date is None:
            return "", {}
        local = recurrence.due_moment(task.due_date, task.due_time)
    else:
        local = recurrence.key_moment(occurrence)
    zone_name = task.timezone or task.owner.timezone
    timed = task.due_time is not None
    try:
        moment = timestamp(recurrence.instant(local, task_zone(task)))
    except OverflowError:  # a day at the calendar's edge: before the year 1 in UTC
        moment = None
    data = {
        "due_local": local.isoformat(timespec="minutes"),
        "due_at": moment,
        "timezone": zone_name,
    }
    return f"Due {local_text(local, zone_name, timed=timed)}", data


def reminder_notice(task: Task, reminder: Reminder) -> Notice:
    """The notice of ``reminder`` firing for its occurrence."""
    assert reminder.fire_at is not None
    assert reminder.occurrence is not None
    due, data = _due_line(task, reminder.occurrence)
    return Notice(
        user=task.owner,
        # The instant too, not the wall time alone: in another zone the same wall time is
        # another reminder, not one already told.
        key=f"reminder:{task.id}:{reminder.occurrence}:{reminder.spec}:{timestamp(reminder.fire_at)}",
        kind="reminder",
        title=f"Reminder: {one_line(task.title)}",
        body=f"{one_line(task.title)}\n{due}{_task_link(task.id)}".rstrip(),
        scheduled_at=reminder.fire_at,
        task_id=task.id,
        data={"occurrence": reminder.occurrence, "reminder": _reminder_json(reminder), **data},
    )


def _reminder_json(reminder: Reminder) -> dict[str, str]:
    if reminder.spec.startswith(f"{AT}:"):
        return {"at": reminder.spec[len(AT) + 1 :]}
    return {"before_due": reminder.spec}


def missed_notice(user: User, missed: list[Notice]) -> Notice:
    """One notice listing the reminders that came due while no worker ran (longer ago
    than the grace), instead of each sent late."""
    lines = [
        f"- {notice.title.removeprefix('Reminder: ')}: {_first_due(notice)}" for notice in missed
    ]
    return Notice(
        user=user,
        key=f"missed:{missed[0].key}"[:200],
        kind="missed",
        title=f"You missed {len(missed)} reminder{'s' if len(missed) != 1 else ''}",
        body="These reminders came due while Doable was not running:\n"
        + "\n".join(lines[:MAX_LISTED]),
        scheduled_at=missed[0].scheduled_at,
        data={"missed": [{"task_id": n.task_id, **n.data} for n in missed[:MAX_LISTED]]},
    )


def _first_due(notice: Notice) -> str:
    return notice.body.splitlines()[1] if "\n" in notice.body else "no due date"


@dataclass(frozen=True)
class Listed:
    """How many tasks there are, and the first of them (at most ``MAX_LISTED``)."""

    count: int
    tasks: list[Task]


def digest_notice(
    user: User, day: date, scheduled_at: datetime, overdue: Listed, today: Listed
) -> Notice:
    """The daily digest of ``day`` (the user's local date): overdue, then due today."""
    zone_name = user.timezone

    def lines(listed: Listed) -> list[str]:
        shown = listed.tasks[:MAX_LISTED]
        found = [f"- {one_line(task.title)}: {_due_line(task, None)[0]}" for task in shown]
        more = listed.count - len(shown)
        return found + ([f"- and {more} more"] if more > 0 else [])

    heading = local_text(datetime.combine(day, time(0)), zone_name, timed=False)
    parts = [f"Your tasks on {heading}"]
    if overdue.count:
        parts += ["", f"Overdue ({overdue.count}):", *lines(overdue)]
    if today.count:
        parts += ["", f"Due today ({today.count}):", *lines(today)]
    return Notice(
        user=user,
        key=f"digest:{day.isoformat()}",
        kind="digest",
        title=f"{overdue.count} overdue, {today.count} due today",
        body="\n".join(parts),
        scheduled_at=scheduled_at,
        data={
            "date": day.isoformat(),
            "timezone": zone_name,
            "overdue": [task.id for task in overdue.tasks[:MAX_LISTED]],
            "due_today": [task.id for task in today.tasks[:MAX_LISTED]],
        },
    )
