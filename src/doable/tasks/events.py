"""Announcing changed tasks to the users who can see them (after commit only)."""

from __future__ import annotations

from typing import Any

from doable import signals
from doable.tasks.access import access_levels


@signals.tasks_changed.connect
def announce_updates(sender: Any, task_ids: list[int], **_: Any) -> None:
    """``task_updated`` for each task, to whoever can see it now: their rights are read
    once, here, and travel with the signal (the notifier does not read them again)."""
    for task_id, levels in access_levels(task_ids).items():
        signals.send(signals.task_updated, task_id=task_id, audience=levels)
