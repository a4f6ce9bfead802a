"""Time on the task pages: when a task is due, in the viewer's zone ("Today", the due
time); a recurring task's next occurrences, and the buttons that complete or skip the
current one. Each button names the occurrence it was shown for, so a second click (or a
form sent twice) does nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import Blueprint, flash, redirect, request, url_for
from marshmallow import ValidationError

from doable.auth.models import User
from doable.db import utcnow
from doable.errors import Conflict
from doable.tasks import recurrence, service
from doable.tasks.access import Access, get_task_for
from doable.tasks.models import Task
from doable.tasks.schemas import OccurrenceChoice
from doable.web import Page, day
from doable.web.session import login_required

bp = Blueprint("occurrences", __name__)
#: Occurrences a task's page lists.
SHOWN = 5


@dataclass(frozen=True)
class Due:
    """When a task is due, as its viewer reads it: ``zone`` named for a due time."""

    text: str
    iso: str
    zone: str | None
    today: bool


@bp.app_template_filter("due")
def due(task: Task) -> Due:
    """``task``'s due date (and time, in the zone of whoever it was read for)."""
    assert task.due_date is not None
    zone_name = task.viewer_zone or task.owner.timezone
    tz = recurrence.zone(zone_name)
    today = recurrence.today_in(tz, utcnow())
    if task.due_time is None or task.due_at is None:
        return Due(day(task.due_date), task.due_date.isoformat(), None, task.due_date == today)
    local = recurrence.local_time(task.due_at, tz)
    text = f"{day(local.date())}, {local:%H:%M}"
    return Due(text, local.isoformat(timespec="minutes"), zone_name, local.date() == today)


@dataclass(frozen=True)
class Upcoming:
    """A recurring task's next occurrences, each in the viewer's zone (``zone``)."""

    zone: str
    current: str | None  # the key of the one the buttons complete or skip
    moments: list[datetime | date]


def upcoming(user: User, task: Task) -> Upcoming | None:
    """The next occurrences of ``task`` for its page; ``None`` when it does not recur."""
    if task.recurrence_rule is None:
        return None
    series = service.get_series(user=user, task_id=task.id, limit=SHOWN)
    tz = recurrence.zone(user.timezone)
    timed = task.due_time is not None
    moments: list[datetime | date] = [
        recurrence.local_time(found.utc, tz) if timed else found.local.date()
        for found in series.occurrences
    ]
    current = series.occurrences[0].key if series.occurrences else None
    return Upcoming(user.timezone, current, moments)


@bp.post("/tasks/<int:task_id>/complete")
@login_required
def complete(user: User, task_id: int) -> Page:
    return _move_on(user, task_id, skip=False)


@bp.post("/tasks/<int:task_id>/skip")
@login_required
def skip(user: User, task_id: int) -> Page:
    return _move_on(user, task_id, skip=True)


def _move_on(user: User, task_id: int, *, skip: bool) -> Page:
    """The CSRF token was checked before the view ran; the guard answers 404 / 403 first."""
    get_task_for(user=user, task_id=task_id, need=Access.EDIT)
    move = service.skip_occurrence if skip else service.complete_occurrence
    try:
        chosen = OccurrenceChoice().load({"occurrence": request.form.get("occurrence", "")})
        move(user=user, task_id=task_id, occurrence=chosen["occurrence"])
    except ValidationError:
        flash("That is not one of the task's occurrences.", "error")
    except service.NothingToChange:
        flash("That one was already done.", "info")
    except Conflict as exc:
        flash(exc.detail or "That occurrence cannot be done now.", "error")
    else:
        flash("Skipped." if skip else "Done.", "success")
    return redirect(url_for("web.tasks.detail", task_id=task_id))
