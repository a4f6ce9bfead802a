"""Domain signals. Services send them after their transaction commits; listeners
(the real-time notifier, file clean-up) must never be able to undo a commit."""

import logging
from collections.abc import Callable
from typing import Any

from blinker import NamedSignal, Namespace
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_AFTER_COMMIT = "doable.after_commit"

_signals = Namespace()

#: ``sender`` is the app; kwargs: ``task_id``, ``audience`` (ids of users who can see it).
task_created = _signals.signal("task-created")
task_updated = _signals.signal("task-updated")
task_deleted = _signals.signal("task-deleted")
#: Sent *inside* the transaction, just before rows go (the database cascades): kwargs
#: ``task_ids`` / ``user_id``. Listeners may read rows and queue work with ``after_commit``.
task_deleting = _signals.signal("task-deleting")
account_deleting = _signals.signal("account-deleting")
#: kwargs: ``task_id``, ``audience`` (the one user who gained or lost access).
task_shared = _signals.signal("task-shared")
#: The same, and ``owner_id``: the task's owner when the sharee left by themselves
#: (``None`` when the owner removed the share).
task_unshared = _signals.signal("task-unshared")
#: Logins ended (logout, password change, refresh-token reuse, account deleted): kwargs
#: ``user_id`` and ``session_ids`` (``None``: every login of the user).
sessions_revoked = _signals.signal("sessions-revoked")


def send(signal: NamedSignal, **payload: Any) -> None:
    """Send ``signal`` from the current app (after commit, but for the ``*_deleting`` ones).

    After a commit the change stands: a failing listener is logged, never turned into an
    error response for a write that succeeded. ``*_deleting`` listeners run inside the
    transaction, so their errors propagate and roll it back.
    """
    sender = current_app._get_current_object()  # type: ignore[attr-defined]
    if signal in (task_deleting, account_deleting):
        signal.send(sender, **payload)
        return
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **payload)
        except Exception:
            log.exception("listener of %s failed", signal.name)


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` when ``session``'s transaction commits; drop it on rollback.

    For side effects that must not happen unless the data change is kept, such as
    removing a deleted attachment's file.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:  # the commit stands; a leftover is for `doable attachments gc`
            log.exception("after-commit work failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)
