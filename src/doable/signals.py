"""Domain signals. Services send them after their transaction commits; listeners
(the real-time notifier, file clean-up) must never be able to undo a commit."""

from typing import Any

from blinker import NamedSignal, Namespace
from flask import current_app

_signals = Namespace()

#: ``sender`` is the app; kwargs: ``task_id``, ``audience`` (ids of users who can see it).
task_created = _signals.signal("task-created")
task_updated = _signals.signal("task-updated")
task_deleted = _signals.signal("task-deleted")
#: kwargs: ``task_id``, ``audience`` (the one user who gained or lost access).
task_shared = _signals.signal("task-shared")
task_unshared = _signals.signal("task-unshared")


def send(signal: NamedSignal, **payload: Any) -> None:
    """Send ``signal`` from the current app. Call only after the transaction commits."""
    signal.send(current_app._get_current_object(), **payload)  # type: ignore[attr-defined]
