"""Queuing a delivery: the one way a delivery row is made or sent again, by the feed's
fan-out (``webhooks.dispatch``), a ping and a redelivery (``webhooks.service``); and
the way old ones go (``prune_deliveries``, from ``doable changes prune``).

A body is built once, when the delivery is queued, and every attempt sends those
bytes: the Standard Webhooks envelope ``{"type", "timestamp", "data"}``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from doable import signals
from doable.db import utcnow
from doable.extensions import db
from doable.schemas import timestamp
from doable.settings import settings
from doable.unit_of_work import publish, use_case
from doable.webhooks.models import PENDING, Webhook, WebhookAttempt, WebhookDelivery


def envelope(event_type: str, data: dict[str, Any]) -> str:
    """The body of a delivery: compact JSON, keys in a stable order."""
    return json.dumps(
        {"type": event_type, "timestamp": timestamp(utcnow()), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def enqueue(
    webhook: Webhook,
    event_type: str,
    data: dict[str, Any],
    *,
    message_id: str | None = None,
    seq: int | None = None,
    change_id: int | None = None,
    task_id: int | None = None,
) -> WebhookDelivery:
    """Add a pending delivery of ``event_type`` to ``webhook``, due now (flushed, not
    committed: the caller's unit of work commits it, and wakes the worker after)."""
    now = utcnow()
    delivery = WebhookDelivery(
        webhook_id=webhook.id,
        message_id=message_id or new_message_id(),
        event_type=event_type,
        seq=seq,
        change_id=change_id,
        task_id=task_id,
        payload=envelope(event_type, data),
        status=PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    db.session.add(delivery)
    db.session.flush()
    publish(signals.work_queued)
    return delivery


def send_again(delivery: WebhookDelivery) -> None:
    """Queue ``delivery`` again, due now, with the same body and ``webhook-id``; its
    earlier attempts stay in its log. One being sent now keeps its claim: the worker
    sending it finishes that attempt first."""
    delivery.status = PENDING
    delivery.next_attempt_at = utcnow()
    db.session.flush()
    publish(signals.work_queued)


@use_case
def prune_deliveries(*, now: datetime | None = None) -> int:
    """Remove deliveries queued more than ``DOABLE_CHANGE_RETENTION_DAYS`` ago that are
    no longer pending (succeeded or failed), with their attempts; how many. A pending
    one stays however old: it is still owed to its receiver."""
    cut = (now or utcnow()) - timedelta(days=settings().change_retention_days)
    old = (WebhookDelivery.created_at < cut) & (WebhookDelivery.status != PENDING)
    connection = db.session.connection()
    old_ids = select(WebhookDelivery.id).where(old)
    connection.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old_ids)))
    return int(connection.execute(delete(WebhookDelivery).where(old)).rowcount or 0)
