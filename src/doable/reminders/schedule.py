"""When reminders and digests fire: kept in step with the tasks and users they belong to.

The tasks service calls ``reschedule_task`` in the unit of work of every write that
changes a task's due date, time, zone, recurrence, reminders or status (an occurrence
completed or skipped included); the accounts service calls ``reschedule_owner`` when a
user's zone changes and ``set_digest`` when their digest time does.
"""

from __future__ import annotations

from datetime import time

from doable.reminders import models  # noqa: F401  (the tables)


def reschedule_task(task_id: int) -> None:
    """Make the task's ``Reminder`` rows match its reminders, each firing at its next
    instant for the task's current occurrence (none once it is completed)."""


def reschedule_owner(user_id: int) -> None:
    """Recompute the user's reminders and digest after their zone changed (their tasks'
    ``due_at`` already recomputed by the tasks service)."""


def set_digest(user_id: int, at: time | None) -> None:
    """Send the user a daily digest at ``at`` their local time; ``None``: no digest."""
