"""A recorder of the domain's task signals, each with what another database connection
sees at the moment it is delivered: a signal sent before the commit would see the old
state (or no row at all). ``tasks_changed`` is recorded as one event per task id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from doable import signals
from doable.extensions import db

#: What a recorder reads through its own connection for the signal's task id.
Observe = Callable[[sa.Connection, int], Any]


@dataclass
class Event:
    name: str
    sender: Any
    task_id: int
    #: ``None`` for ``tasks_changed``, which names no one (the socket tier reads who).
    audience: list[int] | None
    committed: Any


@dataclass
class SignalRecorder:
    """Records every signal it is connected to, with ``observe(connection, task_id)``."""

    observe: Observe
    events: list[Event] = field(default_factory=list)

    def receiver(self, name: str) -> Callable[..., None]:
        def receive(sender: Any, **payload: Any) -> None:
            audience = list(payload["audience"]) if "audience" in payload else None
            for task_id in payload.get("task_ids", [payload.get("task_id")]):
                with db.engine.connect() as connection:
                    committed = self.observe(connection, task_id)
                self.events.append(Event(name, sender, task_id, audience, committed))

        return receive


TASK_SIGNALS = {
    "created": signals.task_created,
    "changed": signals.tasks_changed,
    "deleted": signals.task_deleted,
    "shared": signals.task_shared,
    "unshared": signals.task_unshared,
}


@contextmanager
def recording(observe: Observe, *names: str) -> Iterator[SignalRecorder]:
    """A recorder connected to the named task signals while the block runs."""
    recorder = SignalRecorder(observe)
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(TASK_SIGNALS[name].connected_to(recorder.receiver(name)))
        yield recorder
