"""The fan-out: each webhook's share of its owner's change feed, turned into deliveries.

A webhook follows its owner's feed from ``Webhook.last_seq``. ``fan_out`` reads the
entries after it (once for all of one owner's webhooks), queues a delivery
(``queue.enqueue``) for each event the webhook subscribes to, and moves ``last_seq`` to
the last entry read, subscribed or not, all in one unit of work: the deliveries and the
new positions commit together, or none does.
A delivery's body is built here, once: the event as the owner's ``GET /api/events``
shows it, the webhook's id, and the task as the owner sees it now (``None`` when it is
gone or no longer theirs to see).

Several workers may run this at once; each entry becomes a delivery once:

- PostgreSQL: the webhooks' rows are locked (``FOR NO KEY UPDATE SKIP LOCKED``) while
  their entries are read and queued, so a second worker passes over them rather than
  waiting;
- SQLite: the write lock is taken before reading (``BEGIN IMMEDIATE``), one writer at
  a time;
- on both, ``last_seq`` moves by compare-and-set (``WHERE last_seq = :old``): a worker
  that read an old position writes nothing; and each delivery's ``message_id``
  (``msg_<webhook>_<seq>``) is unique, the last guard.

Entries pruned (``doable changes prune``) before a webhook got to them cannot be
delivered: the webhook skips the gap and a warning names it (docs/api.md, Retention).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from doable.auth.models import User
from doable.changes.models import FeedCursor
from doable.changes.service import feed_events, feed_position, tasks_seen_by
from doable.db import begin_write
from doable.errors import Conflict
from doable.extensions import db
from doable.unit_of_work import use_case
from doable.webhooks import queue
from doable.webhooks.models import Webhook, event_type

log = logging.getLogger(__name__)

#: Active webhooks whose owner's feed has gone past them.
_BEHIND = (
    Webhook.active.is_(True),
    Webhook.last_seq
    < select(FeedCursor.last_seq).where(FeedCursor.user_id == Webhook.user_id).scalar_subquery(),
)
#: The owners of such webhooks.
_OWNERS = select(Webhook.user_id).where(*_BEHIND).distinct().order_by(Webhook.user_id)


class _Overtaken(Exception):
    """Another worker moved a webhook on first: this batch is rolled back."""


def fan_out(*, limit: int = 500) -> int:
    """Queue the deliveries of every active webhook that is behind its owner's feed,
    reading at most ``limit`` entries of a feed per transaction, until each has caught
    up (or another worker holds it); return how many were queued."""
    owners = list(db.session.scalars(_OWNERS))
    db.session.rollback()  # end the read: each batch is a transaction of its own
    queued = 0
    for owner_id in owners:
        more = True
        while more:
            try:
                count, more = _fan_out_batch(owner_id=owner_id, limit=limit)
            except (_Overtaken, Conflict):
                log.info("user %s: another worker fanned these entries out", owner_id)
                break
            queued += count
    return queued


@use_case
def _fan_out_batch(*, owner_id: int, limit: int) -> tuple[int, bool]:
    """Queue the deliveries of the next ``limit`` entries of one user's feed for each of
    their webhooks behind it, and move those past them; how many were queued, and
    whether there may be more. One read of the feed and of its tasks serves them all
    (a user may have many webhooks)."""
    webhooks = _hold(owner_id)
    if not webhooks:
        return 0, False
    after = min(webhook.last_seq for webhook in webhooks)
    events = feed_events(user_id=owner_id, after=after, limit=limit)
    # Nothing held after a position it is behind: every entry after it was pruned.
    last = events[-1]["seq"] if events else feed_position(owner_id)
    wanted = {webhook.id: _wanted(webhook, events, last) for webhook in webhooks}
    task_ids = {event["task_id"] for chosen in wanted.values() for event in chosen}
    owner = db.session.get_one(User, owner_id)
    tasks = tasks_seen_by(user=owner, task_ids=(task_id for task_id in task_ids if task_id))
    for webhook in webhooks:
        for event in wanted[webhook.id]:
            _enqueue(webhook, event, tasks.get(event["task_id"]))
        if webhook.last_seq < last:
            _advance(webhook.id, webhook.last_seq, last)
    return sum(map(len, wanted.values())), len(events) == limit


def _wanted(webhook: Webhook, events: list[dict[str, Any]], last: int) -> list[dict[str, Any]]:
    """The events after ``webhook``'s position that it subscribes to; a gap before the
    first of them (up to ``last`` when there is none) is said and skipped."""
    after = [event for event in events if event["seq"] > webhook.last_seq]
    first = after[0]["seq"] if after else last + 1
    if first > webhook.last_seq + 1 and webhook.last_seq < last:
        log.warning(
            "webhook %s: feed entries %d to %d were pruned before they were delivered; skipped",
            webhook.id,
            webhook.last_seq + 1,
            first - 1,
        )
    return [event for event in after if subscribes(webhook, _type_of(event))]


def _enqueue(webhook: Webhook, event: dict[str, Any], task: dict[str, Any] | None) -> None:
    """Queue ``event`` for ``webhook``: its body, the event as the owner's feed shows it,
    the webhook's id and the task as the owner sees it now."""
    queue.enqueue(
        webhook,
        _type_of(event),
        {**event, "webhook_id": webhook.id, "task": task},
        message_id=f"msg_{webhook.id}_{event['seq']}",
        seq=event["seq"],
        change_id=event["change_id"],
        task_id=event["task_id"],
    )


def subscribes(webhook: Webhook, kind: str) -> bool:
    """Whether ``webhook`` wants events of type ``kind`` (``events``: the types, or ``*``)."""
    return "*" in webhook.events or kind in webhook.events


def _type_of(event: dict[str, Any]) -> str:
    return event_type(event["entity"]["type"], event["action"])


def _hold(owner_id: int) -> list[Webhook]:
    """The owner's active webhooks behind their feed, held until the commit, but those
    another worker holds."""
    query = (
        select(Webhook)
        .where(Webhook.user_id == owner_id, *_BEHIND)
        .order_by(Webhook.id)
        .execution_options(populate_existing=True)  # as they are now, not as last read
    )
    if db.session.connection().dialect.name == "sqlite":
        begin_write(db.session, query)
        return list(db.session.scalars(query))
    held = query.with_for_update(skip_locked=True, key_share=True, of=Webhook)
    return list(db.session.scalars(held))


def _advance(webhook_id: int, seen: int, last: int) -> None:
    """Move the webhook from ``seen`` to ``last``, unless another worker moved it."""
    moved = db.session.connection().execute(
        update(Webhook)
        .where(Webhook.id == webhook_id, Webhook.last_seq == seen)
        # Following the feed is not an edit: ``updated_at`` stays the owner's.
        .values(last_seq=last, updated_at=Webhook.updated_at)
    )
    if moved.rowcount != 1:
        raise _Overtaken(webhook_id)
