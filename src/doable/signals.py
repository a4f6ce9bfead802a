"""Domain signals. Services publish them through their unit of work
(``doable.unit_of_work.publish``), which delivers them after the transaction commits:
listeners (the real-time notifier, file clean-up) can never undo a commit."""

import logging
from typing import Any

from blinker import NamedSignal, Namespace
from flask import current_app

log = logging.getLogger(__name__)

_signals = Namespace()

#: ``sender`` is the app; kwargs: ``task_id``, ``audience``: the users who can see it,
#: as a mapping of user id to their ``Access`` (owner first; iterating gives the ids).
task_created = _signals.signal("task-created")
#: kwargs: ``task_id``, ``audience`` (ids of the users who could see it).
task_deleted = _signals.signal("task-deleted")
#: kwargs: ``task_ids``: tasks whose representation changed (an edit, a category renamed
#: or deleted, a share's permission). Only ids: whoever wants to tell the users who can
#: see them reads who they are (the real-time notifier does, off the request path).
tasks_changed = _signals.signal("tasks-changed")
#: kwargs: ``task_id``, ``audience`` (the one user who gained access, with their right).
task_shared = _signals.signal("task-shared")
#: kwargs: ``task_id``, ``audience`` (the one user who lost access), and ``owner_id``:
#: the task's owner when the sharee left by themselves (``None`` when the owner removed
#: the share).
task_unshared = _signals.signal("task-unshared")
#: kwargs: ``changes``: the changes a transaction logged (``doable.changes.log.Committed``:
#: each with its recipients' ``seq``), in the order they were made.
changes_committed = _signals.signal("changes-committed")
#: Logins ended (logout, password change, refresh-token reuse, account deleted): kwargs
#: ``user_id`` and ``session_ids`` (``None``: every login of the user).
sessions_revoked = _signals.signal("sessions-revoked")
#: kwargs: ``storage_keys``: stored files no row points at since the commit (an
#: attachment, task or account deleted); the attachments domain removes them.
files_released = _signals.signal("files-released")


def send(signal: NamedSignal, **payload: Any) -> None:
    """Send ``signal`` from the current app, after its transaction committed.

    The change stands: a failing listener is logged, never turned into an error
    response for a write that succeeded.
    """
    sender = current_app._get_current_object()  # type: ignore[attr-defined]
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **payload)
        except Exception:
            log.exception("listener of %s failed", signal.name)
