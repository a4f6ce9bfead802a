"""Reminders for the tests: a task's due date, time, zone, recurrence and reminders
written on its row and rescheduled as the tasks service does, and the records they
leave (fires, notifications)."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import sqlalchemy as sa
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from doable.notifications.models import Notification
from doable.reminders.models import Fire, Reminder
from doable.reminders.schedule import reschedule_task
from doable.tasks import recurrence
from doable.tasks.models import Task
from doable.unit_of_work import unit_of_work


def schedule(
    app: Flask,
    task_id: int,
    *,
    due_date: date,
    due_time: time | None = None,
    timezone: str | None = None,
    rule: str | None = None,
    reminders: list[dict[str, str]],
) -> None:
    """Give the task these times and reminders, and reschedule them."""
    with app.app_context(), unit_of_work():
        task = db.session.get(Task, task_id)
        assert task is not None
        task.due_date, task.due_time, task.timezone = due_date, due_time, timezone
        tz = recurrence.zone(timezone or task.owner.timezone)
        try:
            task.due_at = recurrence.instant(recurrence.due_moment(due_date, due_time), tz)
        except OverflowError:  # before the year 1 in UTC
            task.due_at = None
        task.recurrence_rule = rule
        task.recurrence_mode = "schedule" if rule else None
        task.recurrence_anchor = recurrence.due_moment(due_date, due_time) if rule else None
        task.reminders = reminders
        reschedule_task(task_id)


def set_user(app: Flask, user_id: int, **fields: Any) -> None:
    with app.app_context(), unit_of_work():
        user = db.session.get(User, user_id)
        assert user is not None
        for name, value in fields.items():
            setattr(user, name, value)


def rows(app: Flask, model: Any, *order: Any) -> list[Any]:
    """Every row of ``model`` (detached, read in its own session)."""
    with app.app_context():
        found = list(db.session.scalars(sa.select(model).order_by(*order)))
        db.session.expunge_all()
        return found


def fires(app: Flask) -> list[Fire]:
    return rows(app, Fire, Fire.id)


def notifications(app: Flask) -> list[Notification]:
    return rows(app, Notification, Notification.id)


def reminders(app: Flask) -> list[Reminder]:
    return rows(app, Reminder, Reminder.task_id, Reminder.spec)
