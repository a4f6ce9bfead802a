"""Domain signals in, Socket.IO events out.

Each signal arrives after its transaction committed (a rolled-back change sends none)
with the users who can see the task (and, for the events that carry the task, their
right on it). Each of them gets the event in their room, the task read as they see it
through the API (``access`` included) at emit time, and an ``event_id`` that increases
by one per event they are sent, so a client can tell it missed some.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from doable import signals
from doable.auth.models import User
from doable.extensions import db
from doable.realtime.sockets import registry, room_of, server
from doable.tasks.access import Access, read_tasks_as
from doable.tasks.schemas import OwnerRead, task_data

log = logging.getLogger(__name__)


def send_tasks(app: Flask, event: str, audiences: Mapping[int, Mapping[int, Access]]) -> None:
    """``event`` with the task, to each user of ``audiences[task_id]`` (their rights on
    it, read once by whoever published the signal).

    A task reads the same to everyone with the same right on it, so it is read once per
    right (at most three times), as a user holding that right sees it.
    """
    holders: dict[tuple[int, Access], list[int]] = defaultdict(list)
    for task_id, levels in audiences.items():
        for viewer_id, level in levels.items():
            holders[task_id, level].append(viewer_id)
    reads: dict[int, list[int]] = defaultdict(list)  # one holder of each right -> tasks
    for (task_id, _), viewers in holders.items():
        reads[viewers[0]].append(task_id)
    seen: dict[tuple[int, Access], dict[str, Any]] = {}
    # A session of its own, so the objects the request is about to serialise keep their
    # viewer's ``access``; on the request's connection, so no second one is taken.
    with Session(bind=db.session.connection()) as session:
        for viewer_id, task_ids in reads.items():
            for task in read_tasks_as(session, viewer_id, task_ids):
                seen[task.id, Access.from_label(task.access or "")] = task_data(task)
    _emit(
        app,
        event,
        [
            (viewer_id, seen[key])
            for key, viewers in holders.items()
            if key in seen
            for viewer_id in viewers
        ],
    )


def send_ids(app: Flask, event: str, task_id: int, audience: Iterable[int]) -> None:
    """``event`` with ``{"id": task_id}`` to each of ``audience``."""
    _emit(app, event, [(user_id, {"id": task_id}) for user_id in audience])


def _emit(app: Flask, event: str, messages: list[tuple[int, dict[str, Any]]]) -> None:
    if not messages:
        return
    event_ids = registry(app).next_event_ids([user_id for user_id, _ in messages])
    for (user_id, payload), event_id in zip(messages, event_ids, strict=True):
        try:
            server(app).emit(event, {**payload, "event_id": event_id}, to=room_of(user_id))
        except Exception:
            registry(app).missed([user_id])  # their next event shows the gap
            raise


@signals.task_created.connect
def _created(sender: Flask, task_id: int, audience: Mapping[int, Access], **_: Any) -> None:
    send_tasks(sender, "task_created", {task_id: audience})


@signals.task_updated.connect
def _updated(sender: Flask, task_id: int, audience: Mapping[int, Access], **_: Any) -> None:
    send_tasks(sender, "task_updated", {task_id: audience})


@signals.task_shared.connect
def _shared(sender: Flask, task_id: int, audience: Mapping[int, Access], **_: Any) -> None:
    send_tasks(sender, "task_shared", {task_id: audience})


@signals.task_deleted.connect
def _deleted(sender: Flask, task_id: int, audience: list[int], **_: Any) -> None:
    send_ids(sender, "task_deleted", task_id, audience)


@signals.task_unshared.connect
def _unshared(
    sender: Flask, task_id: int, audience: list[int], owner_id: int | None = None, **_: Any
) -> None:
    """``{"id"}`` to whoever lost the task; when a sharee left by themselves, the owner
    (who keeps it) also gets ``{"id", "user"}``: who left."""
    messages: list[tuple[int, dict[str, Any]]] = [
        (user_id, {"id": task_id}) for user_id in audience
    ]
    if owner_id is not None:
        for user in db.session.scalars(select(User).where(User.id.in_(audience))):
            messages.append((owner_id, {"id": task_id, "user": OwnerRead().dump(user)}))
    _emit(sender, "task_unshared", messages)
