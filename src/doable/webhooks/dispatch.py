"""The fan-out: each webhook's share of its owner's change feed, turned into deliveries.

A webhook follows its owner's feed from ``Webhook.last_seq``. ``fan_out`` reads the
entries after it, queues a delivery (``queue.enqueue``) for each event the webhook
subscribes to, and moves ``last_seq`` to the last entry read, subscribed or not, all in
one unit of work: the deliveries and the new position commit together, or neither does.
A delivery's body is built here, once: the event as the owner's ``GET /api/events``
shows it, the webhook's id, and the task as the owner sees it now (``None`` when it is
gone or no longer theirs to see).

Several workers may run this at once; each entry becomes a delivery once:

- PostgreSQL: a webhook's row is locked (``FOR NO KEY UPDATE SKIP LOCKED``) while its
  entries are read and queued, so a second worker passes over it rather than waiting;
- SQLite: the write lock is taken before reading (``BEGIN IMMEDIATE``), one writer at
  a time;
- on both, ``last_seq`` moves by compare-and-set (``WHERE last_seq = :old``): a worker
  that read an old position writes nothing; and each delivery's ``message_id``
  (``msg_<webhook>_<seq>``) is unique, the last guard.

Entries pruned (``doable changes prune``) before a webhook got to them cannot be
delivered: the webhook skips the gap and a warning names it (docs/api.md, Webhooks).
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
    select(Webhook.id)
    .join(FeedCursor, FeedCursor.user_id == Webhook.user_id)
    .where(Webhook.active.is_(True), FeedCursor.last_seq > Webhook.last_seq)
    .order_by(Webhook.id)
)


class _Overtaken(Exception):
    """Another worker moved the webhook on first: this batch is rolled back."""


def fan_out(*, limit: int = 500) -> int:
    """Queue the deliveries of every active webhook that is behind its owner's feed,
    reading at most ``limit`` entries per transaction, until each has caught up (or
    another worker holds it); return how many were queued."""
    behind = list(db.session.scalars(_BEHIND))
    db.session.rollback()  # end the read: each batch is a transaction of its own
    queued = 0
    for webhook_id in behind:
        more = True
        while more:
            try:
                count, more = _fan_out_batch(webhook_id=webhook_id, limit=limit)
            except (_Overtaken, Conflict):
                log.info("webhook %s: another worker fanned these entries out", webhook_id)
                break
            queued += count
    return queued


@use_case
def _fan_out_batch(*, webhook_id: int, limit: int) -> tuple[int, bool]:
    """Queue the deliveries of the next ``limit`` entries of one webhook's feed and move
    it past them; how many were queued, and whether it may have more."""
    webhook = _hold(webhook_id)
    if webhook is None:
        return 0, False
    owner = db.session.get_one(User, webhook.user_id)
    seen = webhook.last_seq
    events = feed_events(user_id=webhook.user_id, after=seen, limit=limit)
    if not events:  # behind, yet nothing is held: every entry after it was pruned
        _advance(webhook_id, seen, _skip_gap(webhook_id, seen, feed_position(webhook.user_id)))
        return 0, False
    if events[0]["seq"] != seen + 1:
        _skip_gap(webhook_id, seen, events[0]["seq"] - 1)
    wanted = [event for event in events if subscribes(webhook, _type_of(event))]
    tasks = tasks_seen_by(user=owner, task_ids=(e["task_id"] for e in wanted if e["task_id"]))
    for event in wanted:
        data = {**event, "webhook_id": webhook.id, "task": tasks.get(event["task_id"])}
        queue.enqueue(
            webhook,
            _type_of(event),
            data,
            message_id=f"msg_{webhook.id}_{event['seq']}",
            seq=event["seq"],
            change_id=event["change_id"],
            task_id=event["task_id"],
        )
    _advance(webhook_id, seen, events[-1]["seq"])
    return len(wanted), len(events) == limit


def subscribes(webhook: Webhook, kind: str) -> bool:
    """Whether ``webhook`` wants events of type ``kind`` (``events``: the types, or ``*``)."""
    return "*" in webhook.events or kind in webhook.events


def _type_of(event: dict[str, Any]) -> str:
    return event_type(event["entity"]["type"], event["action"])


def _hold(webhook_id: int) -> Webhook | None:
    """The webhook, held until the commit, if it is active and no other worker holds it."""
    query = (
        select(Webhook)
        .where(Webhook.id == webhook_id, Webhook.active.is_(True))
        .execution_options(populate_existing=True)  # as it is now, not as last read
    )
    if db.session.connection().dialect.name == "sqlite":
        begin_write(db.session, query)
        return db.session.scalar(query)
    return db.session.scalar(query.with_for_update(skip_locked=True, key_share=True))


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


def _skip_gap(webhook_id: int, seen: int, last_missing: int) -> int:
    """Say that the entries after ``seen`` up to ``last_missing`` were pruned before
    this webhook was sent them; return ``last_missing``."""
    log.warning(
        "webhook %s: feed entries %d to %d were pruned before they were delivered; skipped",
        webhook_id,
        seen + 1,
        last_missing,
    )
    return last_missing
