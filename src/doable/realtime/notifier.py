"""The change log, as it commits, out to the sockets, off the request path.

``signals.changes_committed`` arrives after the transaction that logged the changes
committed (a rolled-back change sends none), with each change's recipients and their
``seq`` (``doable.changes.log.Committed``). Its listener here only hands the changes
over to the process's fan-out queue (``realtime/fanout.py``); the work happens there:

- which recipients hold a socket, in any process (one registry call): nothing more is
  done for the others;
- one event for each feed entry of each of them, carrying its ``seq``, in ``seq`` order
  per user; a task is read as each of them sees it through the API now (once per right),
  and a task they can no longer read is sent as ``{id, seq}``, so the ``seq`` still
  arrives.

A ``seq`` is the entry's position in the user's feed, which the database holds: an
event that is lost (Redis away, a process stopped, the client offline) is read back with
``GET /api/events?after=<the last seq the client has>``, which a client does whenever
it connects again or sees a ``seq`` jump (docs/api.md, Real-time events).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from functools import partial
from typing import Any, NamedTuple

from flask import Flask
from sqlalchemy import select

from doable import signals
from doable.categories.models import Category
from doable.changes.log import Committed, Recorded
from doable.extensions import db
from doable.realtime.fanout import fanout
from doable.realtime.sockets import registry, room_of, server
from doable.tasks.access import Access, access_levels, read_tasks_as
from doable.tasks.schemas import task_data

log = logging.getLogger(__name__)

#: The event each logged action is sent as.
EVENTS = {
    "created": "task_created",
    "updated": "task_updated",
    "deleted": "task_deleted",
    "shared": "task_shared",
    "share_updated": "task_updated",
    "unshared": "task_unshared",
    "attachment_added": "attachment_added",
    "attachment_deleted": "attachment_deleted",
    "category_created": "category_created",
    "category_updated": "category_updated",
    "category_deleted": "category_deleted",
    "webhook_disabled": "webhook_disabled",
    # A recurring task rolled forward: the task as it is now, like any update.
    "occurrence_completed": "task_updated",
    "occurrence_skipped": "task_updated",
    "notification_created": "notification",
}
#: Actions whose event carries the task as its recipient sees it when it is sent.
_WITH_TASK = frozenset({"created", "updated", "shared", "share_updated"})
#: Actions whose event carries the category as it is when it is sent.
_WITH_CATEGORY = frozenset({"category_created", "category_updated"})


class Entry(NamedTuple):
    """One entry of one user's feed, to send."""

    user_id: int
    seq: int
    change: Recorded


def send_changes(app: Flask, changes: Iterable[Committed]) -> None:
    """An event for each feed entry of ``changes`` whose user holds a socket."""
    committed = list(changes)
    online = _online(app, {user for change in committed for user in change.seqs})
    if not online:
        return
    entries = sorted(
        (
            Entry(user_id, seq, change.recorded)
            for change in committed
            for user_id, seq in change.seqs.items()
            if user_id in online
        ),
        key=lambda entry: (entry.user_id, entry.seq),
    )
    tasks = _tasks_seen(
        {(entry.change.task_id or 0, entry.user_id) for entry in entries if _with_task(entry)}
    )
    categories = _categories(
        {entry.change.entity_id for entry in entries if entry.change.action in _WITH_CATEGORY}
    )
    for entry in entries:
        payload = {**_payload(entry, tasks, categories), "seq": entry.seq}
        server(app).emit(EVENTS[entry.change.action], payload, to=room_of(entry.user_id))


def _online(app: Flask, users: Collection[int]) -> set[int]:
    return registry(app).connected(users) if users else set()


def _with_task(entry: Entry) -> bool:
    return entry.change.action in _WITH_TASK and entry.change.task_id is not None


def _payload(
    entry: Entry,
    tasks: Mapping[tuple[int, int], dict[str, Any]],
    categories: Mapping[int, dict[str, Any]],
) -> dict[str, Any]:
    """What ``entry``'s event says, but its ``seq``."""
    change, action = entry.change, entry.change.action
    if action in _WITH_CATEGORY:
        return categories.get(change.entity_id, {"id": change.entity_id})
    if change.entity == "category":
        return {"id": change.entity_id}
    if change.entity == "webhook":
        return {"id": change.entity_id, "disabled_reason": change.changes["disabled_reason"][1]}
    if change.entity == "notification":
        return dict(change.changes["notification"][1])
    if change.entity == "attachment":
        before, after = change.changes["attachment"]
        return {"id": change.task_id, "attachment": after if after is not None else before}
    task_id = change.task_id or change.entity_id
    if action in ("shared", "unshared"):
        before, after = change.changes["shared_with"]
        sharee = after if action == "shared" else before
        if sharee["id"] != entry.user_id:  # the owner: told who it was shared with
            return {**tasks.get((task_id, entry.user_id), {"id": task_id}), "user": sharee}
    return tasks.get((task_id, entry.user_id), {"id": task_id})


def _tasks_seen(wanted: Collection[tuple[int, int]]) -> dict[tuple[int, int], dict[str, Any]]:
    """Each (task, user) of ``wanted`` that the user can still see, as they see it now.

    A task reads the same to everyone with the same right on it, so it is read once per
    right (at most three times), as one user holding that right sees it."""
    if not wanted:
        return {}
    levels = access_levels({task_id for task_id, _ in wanted})
    holders: dict[tuple[int, Access], list[int]] = defaultdict(list)
    for task_id, user_id in wanted:
        level = levels.get(task_id, {}).get(user_id)
        if level is not None:
            holders[task_id, level].append(user_id)
    reads: dict[int, list[int]] = defaultdict(list)  # one holder of each right -> tasks
    for (task_id, _), users in holders.items():
        reads[users[0]].append(task_id)
    seen: dict[tuple[int, Access], dict[str, Any]] = {}
    for viewer_id, task_ids in reads.items():
        for task in read_tasks_as(db.session(), viewer_id, task_ids):
            seen[task.id, Access.from_label(task.access or "")] = task_data(task)
    return {
        (task_id, user_id): seen[task_id, level]
        for (task_id, level), users in holders.items()
        if (task_id, level) in seen
        for user_id in users
    }


_CATEGORIES = select(Category.id, Category.name, Category.color)


def _categories(ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The categories of ``ids`` still there, as they are now."""
    if not ids:
        return {}
    rows = db.session.execute(_CATEGORIES.where(Category.id.in_(list(ids))))
    return {row.id: row._asdict() for row in rows}


# The listener: in the request, after its commit. It only hands the changes over.


@signals.changes_committed.connect
def _committed(sender: Flask, changes: Iterable[Committed], **_: Any) -> None:
    listed = [change for change in changes if change.seqs]
    if listed:
        fanout(sender).put(partial(send_changes, sender, listed))
