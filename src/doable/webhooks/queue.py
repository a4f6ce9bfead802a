"""Queuing a delivery: the one way a delivery row is made or sent again, by the feed's
fan-out (``webhooks.dispatch``), a ping and a redelivery (``webhooks.service``).

A body is built once, when the delivery is queued, and every attempt sends those
bytes: the Standard Webhooks envelope ``{"type", "timestamp", "data"}``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from doable import signals
from doable.db import utcnow
from doable.extensions import db
from doable.schemas import timestamp
from doable.unit_of_work import publish
from doable.webhooks.models import PENDING, Webhook, WebhookDelivery


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
