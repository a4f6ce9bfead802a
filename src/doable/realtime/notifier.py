"""Domain signals in, Socket.IO events out, off the request path.

Each signal arrives after its transaction committed (a rolled-back change sends none).
Its listener here only hands the change over to the process's fan-out queue
(``realtime/fanout.py``); the work happens there, one change at a time, in order:

- who hears of it: the users the signal names (a new task's owner, a new sharee, the
  users who could see a deleted task), or, for ``tasks_changed``, everyone who can see
  each task now (``access_levels``, read then, and only when anyone holds a socket);
- which of them hold a socket, in any process (one registry call): nothing more is done
  for the others;
- the task read as each of them sees it through the API (``access`` included), once per
  right, and the event emitted to their room with an ``event_id`` that increases by one
  per event they are sent, so a client can tell it missed some.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from functools import partial
from typing import Any

from flask import Flask
from sqlalchemy import select

from doable import signals
from doable.auth.models import User
from doable.extensions import db
from doable.realtime.fanout import fanout
from doable.realtime.sockets import registry, room_of, server
from doable.tasks.access import Access, access_levels, read_tasks_as
from doable.tasks.schemas import OwnerRead, task_data

log = logging.getLogger(__name__)

Audiences = Mapping[int, Mapping[int, Access]]


def send_tasks(app: Flask, event: str, audiences: Audiences) -> None:
    """``event`` with the task, to each user of ``audiences[task_id]`` (their rights on
    it) who holds a socket.

    A task reads the same to everyone with the same right on it, so it is read once per
    right (at most three times), as a user holding that right sees it.
    """
    online = _online(app, {user for levels in audiences.values() for user in levels})
    holders: dict[tuple[int, Access], list[int]] = defaultdict(list)
    for task_id, levels in audiences.items():
        for viewer_id, level in levels.items():
            if viewer_id in online:
                holders[task_id, level].append(viewer_id)
    if not holders:
        return
    try:
        seen = _read(holders)
    except Exception:
        registry(app).missed(online)  # their next event shows the gap
        raise
    messages = [
        (viewer_id, seen[key])
        for key, viewers in holders.items()
        if key in seen
        for viewer_id in viewers
    ]
    _emit(app, event, messages)


def _read(
    holders: Mapping[tuple[int, Access], list[int]],
) -> dict[tuple[int, Access], dict[str, Any]]:
    """Each (task, right) of ``holders`` serialised as its first holder sees it."""
    reads: dict[int, list[int]] = defaultdict(list)  # one holder of each right -> tasks
    for (task_id, _), viewers in holders.items():
        reads[viewers[0]].append(task_id)
    seen: dict[tuple[int, Access], dict[str, Any]] = {}
    for viewer_id, task_ids in reads.items():
        for task in read_tasks_as(db.session(), viewer_id, task_ids):
            seen[task.id, Access.from_label(task.access or "")] = task_data(task)
    return seen


def send_updates(app: Flask, task_ids: list[int]) -> None:
    """``task_updated`` for each task, to whoever can see it now (read only when anyone
    at all holds a socket, or the registry cannot tell)."""
    try:
        anyone = registry(app).anyone_connected()
    except Exception:
        anyone = True  # then ``_online`` fails too, for the users it must mark
    if anyone:
        send_tasks(app, "task_updated", access_levels(task_ids))


def send_ids(app: Flask, event: str, task_id: int, audience: list[int]) -> None:
    """``event`` with ``{"id": task_id}`` to each of ``audience`` who holds a socket."""
    online = _online(app, audience)
    _emit(app, event, [(user_id, {"id": task_id}) for user_id in audience if user_id in online])


def send_unshared(app: Flask, task_id: int, audience: list[int], owner_id: int | None) -> None:
    """``{"id"}`` to whoever lost the task; when a sharee left by themselves, the owner
    (who keeps it) also gets ``{"id", "user"}``: who left."""
    online = _online(app, [*audience, *([owner_id] if owner_id else [])])
    messages: list[tuple[int, dict[str, Any]]] = [
        (user_id, {"id": task_id}) for user_id in audience if user_id in online
    ]
    if owner_id in online:
        for user in db.session.scalars(select(User).where(User.id.in_(audience))):
            messages.append((owner_id, {"id": task_id, "user": OwnerRead().dump(user)}))
    _emit(app, "task_unshared", messages)


def _online(app: Flask, users: Collection[int]) -> set[int]:
    """Which of ``users`` hold a socket. When the registry cannot tell (Redis away),
    each of them may have missed this event: their next one shows a gap."""
    try:
        return registry(app).connected(users)
    except Exception:
        registry(app).missed(users)
        raise


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


# The listeners: in the request, after its commit. They only hand the change over.


@signals.task_created.connect
def _created(sender: Flask, task_id: int, audience: Mapping[int, Access], **_: Any) -> None:
    fanout(sender).put(partial(send_tasks, sender, "task_created", {task_id: dict(audience)}))


@signals.tasks_changed.connect
def _changed(sender: Flask, task_ids: Iterable[int], **_: Any) -> None:
    fanout(sender).put(partial(send_updates, sender, list(task_ids)))


@signals.task_shared.connect
def _shared(sender: Flask, task_id: int, audience: Mapping[int, Access], **_: Any) -> None:
    fanout(sender).put(partial(send_tasks, sender, "task_shared", {task_id: dict(audience)}))


@signals.task_deleted.connect
def _deleted(sender: Flask, task_id: int, audience: Iterable[int], **_: Any) -> None:
    fanout(sender).put(partial(send_ids, sender, "task_deleted", task_id, list(audience)))


@signals.task_unshared.connect
def _unshared(
    sender: Flask, task_id: int, audience: Iterable[int], owner_id: int | None = None, **_: Any
) -> None:
    fanout(sender).put(partial(send_unshared, sender, task_id, list(audience), owner_id))
