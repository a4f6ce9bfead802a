"""A recorder of the changes the domain logs, as ``signals.changes_committed`` delivers
them, each with what another database connection sees at the moment it is delivered: a
signal sent before the commit would see the old state (or no row at all)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from doable import signals
from doable.changes.log import Committed
from doable.extensions import db

#: What a recorder reads through its own connection for the change's task id.
Observe = Callable[[sa.Connection, int], Any]


@dataclass
class Event:
    action: str
    sender: Any
    task_id: int | None
    #: Whose feeds it went to, by user id.
    audience: list[int]
    committed: Any


@dataclass
class SignalRecorder:
    """Records every change committed, with ``observe(connection, task_id)``, keeping
    those of the entities it was asked for."""

    observe: Observe
    entities: tuple[str, ...] = ("task",)
    events: list[Event] = field(default_factory=list)

    def receive(self, sender: Any, changes: list[Committed], **_: Any) -> None:
        for change in changes:
            recorded = change.recorded
            if recorded.entity not in self.entities:
                continue
            with db.engine.connect() as connection:
                committed = self.observe(connection, recorded.task_id or 0)
            self.events.append(
                Event(recorded.action, sender, recorded.task_id, sorted(change.seqs), committed)
            )


@contextmanager
def recording(observe: Observe, *entities: str) -> Iterator[SignalRecorder]:
    """A recorder of the changes to ``entities`` (default: tasks) while the block runs."""
    recorder = SignalRecorder(observe, entities or ("task",))
    with signals.changes_committed.connected_to(recorder.receive):
        yield recorder
