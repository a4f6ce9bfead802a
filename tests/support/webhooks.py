"""Webhooks and deliveries made straight in the database (the way the fan-out and the
API make them: the models and ``queue.enqueue``), and the worker's loop run in the
test until a condition holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from doable.extensions import db
from doable.unit_of_work import unit_of_work
from doable.webhooks import delivery, queue
from doable.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from doable.webhooks.signing import new_secret

#: Settings for tests that send to ``receiver`` (on 127.0.0.1), retrying at once.
FAST = {"WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8"], "WEBHOOK_RETRY_SCHEDULE": [0.05] * 3}


def new_webhook(app: Flask, user_id: int, url: str, **columns: Any) -> tuple[int, str]:
    """A webhook of ``user_id`` to ``url`` for every event; its id and secret."""
    secret = columns.pop("secret", new_secret())
    with app.app_context(), unit_of_work():
        webhook = Webhook(user_id=user_id, url=url, events=["*"], secret=secret, **columns)
        db.session.add(webhook)
        db.session.flush()
        return webhook.id, secret


def queue_delivery(
    app: Flask, webhook_id: int, *, task_id: int | None = None, data: dict[str, Any] | None = None
) -> int:
    """A pending delivery to ``webhook_id``, due now; its id."""
    with app.app_context(), unit_of_work():
        webhook = db.session.get_one(Webhook, webhook_id)
        event = "task.updated" if task_id else "ping"
        made = queue.enqueue(webhook, event, data or {"task_id": task_id}, task_id=task_id)
        return made.id


def stored(app: Flask, delivery_id: int) -> dict[str, Any]:
    """The delivery's row, as a dict."""
    with app.app_context():
        row = db.session.get_one(WebhookDelivery, delivery_id)
        return {
            column.key: getattr(row, column.key) for column in WebhookDelivery.__mapper__.columns
        }


def stored_webhook(app: Flask, webhook_id: int) -> dict[str, Any]:
    with app.app_context():
        row = db.session.get_one(Webhook, webhook_id)
        return {column.key: getattr(row, column.key) for column in Webhook.__mapper__.columns}


def attempts(app: Flask, delivery_id: int) -> list[dict[str, Any]]:
    """The delivery's attempts, in order, as dicts."""
    with app.app_context():
        rows = db.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.number)
        )
        columns = WebhookAttempt.__mapper__.columns
        return [{column.key: getattr(row, column.key) for column in columns} for row in rows]


def update_row(app: Flask, model: Any, row_id: int, **values: Any) -> None:
    with app.app_context(), unit_of_work():
        row = db.session.get_one(model, row_id)
        for name, value in values.items():
            setattr(row, name, value)


def deliver_until(app: Flask, done: Callable[[], bool], limit: float = 15.0) -> int:
    """Run the worker's loop (``send_due``, then wait for the next due delivery, at
    most 50 ms) until ``done()``; the attempts it made."""
    made = 0
    deadline = time.monotonic() + limit
    with app.app_context():
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"deliveries not done within {limit}s")
            made += delivery.send_due(limit=10)
            due_in = delivery.next_due_in()
            time.sleep(min(due_in if due_in is not None else 0.05, 0.05))
    return made


def settled(app: Flask, delivery_id: int) -> Callable[[], bool]:
    """Whether the delivery has succeeded or failed (for ``deliver_until``)."""
    return lambda: stored(app, delivery_id)["status"] != "pending"
