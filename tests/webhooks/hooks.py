"""Webhooks and their deliveries, made and read straight from the database: the fan-out
and the worker are tested apart from the routes that manage webhooks."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask

from doable.changes.service import feed_position
from doable.extensions import db
from doable.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from doable.webhooks.signing import new_secret
from tests.support.factories import Account


def add_webhook(
    app: Flask, owner: Account, events: list[str], url: str = "https://hooks.example.com/in"
) -> tuple[int, str]:
    """A webhook of ``owner`` following their feed from where it stands now; its id and
    signing secret."""
    with app.app_context():
        secret = new_secret()
        webhook = Webhook(
            user_id=owner.id,
            url=url,
            events=events,
            secret=secret,
            last_seq=feed_position(owner.id),
        )
        db.session.add(webhook)
        db.session.commit()
        db.session.remove()
        return webhook.id, secret


def deliveries(app: Flask, webhook_id: int | None = None) -> list[dict[str, Any]]:
    """Every delivery (of one webhook), in the order queued: its columns and its body."""
    query = sa.select(WebhookDelivery).order_by(WebhookDelivery.id)
    if webhook_id is not None:
        query = query.where(WebhookDelivery.webhook_id == webhook_id)
    with app.app_context():
        rows = [
            {
                "webhook_id": row.webhook_id,
                "message_id": row.message_id,
                "event_type": row.event_type,
                "seq": row.seq,
                "change_id": row.change_id,
                "task_id": row.task_id,
                "status": row.status,
                "body": json.loads(row.payload),
            }
            for row in db.session.scalars(query)
        ]
        db.session.remove()
    return rows


def last_seq(app: Flask, webhook_id: int) -> int:
    with app.app_context():
        seq = db.session.scalar(sa.select(Webhook.last_seq).where(Webhook.id == webhook_id))
        db.session.remove()
    return int(seq)


def attempts(app: Flask) -> list[tuple[str, int, str]]:
    """Every attempt: its delivery's message id, its number and outcome, in order."""
    query = (
        sa.select(WebhookDelivery.message_id, WebhookAttempt.number, WebhookAttempt.outcome)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .order_by(WebhookDelivery.id, WebhookAttempt.number)
    )
    with app.app_context():
        rows = [tuple(row) for row in db.session.execute(query)]
        db.session.remove()
    return rows  # type: ignore[return-value]
