"""Webhooks made through the API, and delivery and attempt rows written straight to the
database as the delivery engine would leave them (these tests never send anything)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.webhooks.models import FAILED, Webhook, WebhookAttempt, WebhookDelivery
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
