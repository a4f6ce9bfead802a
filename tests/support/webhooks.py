"""Webhooks and deliveries for tests: made through the API, or written straight to the
database the way the fan-out, the API and the delivery engine leave them (the models
and ``queue.enqueue``), and the worker's loop run in the test until a condition holds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select

from doable.extensions import db
from doable.unit_of_work import unit_of_work
from doable.webhooks import delivery, queue
from doable.webhooks.models import FAILED, Webhook, WebhookAttempt, WebhookDelivery
from doable.webhooks.signing import new_secret
from tests.support.factories import Account, ApiClient

HOOK_URL = "https://hooks.example.com/doable"
#: A moment in the past that every test's rows are dated from.
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def add_webhook(api: ApiClient, account: Account, **fields: Any) -> dict[str, Any]:
    body = {"url": HOOK_URL, "events": ["*"], **fields}
    response = api.post("/api/webhooks", account.token, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def webhook_row(app: Flask, webhook_id: int) -> Webhook | None:
    """The webhook's row, read straight from the database (detached)."""
    with app.app_context():
        webhook = db.session.get(Webhook, webhook_id)
        if webhook is not None:
            db.session.expunge(webhook)
        return webhook


def set_webhook(app: Flask, webhook_id: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(sa.update(Webhook).where(Webhook.id == webhook_id).values(**values))
        db.session.commit()


def insert_delivery(
    app: Flask,
    webhook_id: int,
    *,
    n: int,
    status: str = FAILED,
    event_type: str = "task.created",
    attempts: list[dict[str, Any]] | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A delivery queued ``n`` minutes after T0 (or at ``created_at``), with
    ``attempts`` (each an attempt's columns over defaults); its id, message id, body."""
    created = created_at or T0 + timedelta(minutes=n)
    payload = {"type": event_type, "timestamp": "2026-11-30T12:00:00Z", "data": {"seq": n}}
    attempts = attempts or []
    with app.app_context():
        delivery = WebhookDelivery(
            webhook_id=webhook_id,
            message_id=f"msg_{webhook_id}_{n}",
            event_type=event_type,
            seq=n,
            payload=json.dumps(payload),
            status=status,
            attempts=len(attempts),
            created_at=created,
            next_attempt_at=None if status != "pending" else created,
            last_attempt_at=created + timedelta(seconds=len(attempts)) if attempts else None,
        )
        db.session.add(delivery)
        db.session.flush()
        for number, columns in enumerate(attempts, start=1):
            db.session.add(_attempt(delivery.id, number, created, columns))
        db.session.commit()
        return {"id": delivery.id, "message_id": delivery.message_id, "payload": payload}


def _attempt(
    delivery_id: int, number: int, created: datetime, columns: dict[str, Any]
) -> WebhookAttempt:
    values: dict[str, Any] = {
        "started_at": created + timedelta(seconds=number),
        "outcome": "retrying",
        "request_headers": {"webhook-id": f"msg_{delivery_id}"},
        "duration_ms": 12,
        "response_status": 500,
        "response_headers": {"content-type": "text/plain"},
        "response_body": "boom",
        "error": None,
        **columns,
    }
    return WebhookAttempt(delivery_id=delivery_id, number=number, **values)


def webhook_rows(app: Flask) -> list[Webhook]:
    """Every webhook, oldest first, read straight from the database (detached)."""
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Webhook).order_by(Webhook.id)))
        db.session.expunge_all()
        return rows


def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


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
