"""Sending task signals to the users who can see each task (after commit only)."""

from __future__ import annotations

from collections.abc import Iterable

from doable import signals
from doable.tasks.access import audience


def notify_updated(task_ids: Iterable[int]) -> None:
    """After a commit that changed these tasks' representation: tell who can see them."""
    for task_id, watchers in audience(task_ids).items():
        signals.send(signals.task_updated, task_id=task_id, audience=watchers)
