"""Domain signals. Services publish them through their unit of work
(``doable.unit_of_work.publish``), which delivers them after the transaction commits:
listeners (the real-time notifier, file clean-up) can never undo a commit."""

import logging
from typing import Any

from blinker import NamedSignal, Namespace
from flask import current_app

log = logging.getLogger(__name__)

_signals = Namespace()

#: ``sender`` is the app; kwargs: ``changes``: the changes a transaction logged
#: (``doable.changes.log.Committed``: each with its recipients' ``seq``), in the order
#: they were made. The real-time notifier sends them to the sockets.
changes_committed = _signals.signal("changes-committed")
#: Logins ended (logout, password change, refresh-token reuse, account deleted): kwargs
#: ``user_id`` and ``session_ids`` (``None``: every login of the user).
sessions_revoked = _signals.signal("sessions-revoked")
#: Webhook deliveries were queued (a ping, a redelivery): the worker looks for due work
#: now rather than at its next poll. No kwargs. (A change wakes it through
#: ``changes_committed``.)
work_queued = _signals.signal("work-queued")
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
