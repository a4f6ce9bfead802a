"""Webhooks, their deliveries (one per event per webhook) and each attempt to send one.

A webhook follows its owner's change feed: ``last_seq`` is the feed position up to
which its events have become deliveries. Deliveries and attempts are rows, so nothing
pending lives only in a process or in Redis."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doable.changes.models import BigId
from doable.db import TimestampMixin, UTCDateTime
from doable.extensions import db

#: The event types a webhook may subscribe to: each feed action, as ``entity.verb``,
#: and the notice that a webhook was disabled. ``ping`` is sent on request only.
EVENT_TYPES = (
    "task.created",
    "task.updated",
    "task.deleted",
    "task.shared",
    "task.share_updated",
    "task.unshared",
    "attachment.added",
    "attachment.deleted",
    "category.created",
    "category.updated",
    "category.deleted",
    "webhook.disabled",
    "task.occurrence_completed",
    "task.occurrence_skipped",
    "notification.created",
)
PING = "ping"
#: A delivery's ``status``.
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
DELIVERY_STATUSES = (PENDING, SUCCEEDED, FAILED)
#: An attempt's ``outcome``: ``sending`` until it ends; ``interrupted`` when its worker
#: died before it ended (the delivery was claimed again after its lease).
ATTEMPT_OUTCOMES = ("sending", "succeeded", "retrying", "failed", "interrupted")


def event_type(entity: str, action: str) -> str:
    """The webhook event type of a feed change (``task``/``shared`` -> ``task.shared``,
    ``attachment``/``attachment_added`` -> ``attachment.added``)."""
    verb = action.removeprefix(f"{entity}_")
    return f"{entity}.{verb}"


class Webhook(TimestampMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "webhook"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    #: A list of ``EVENT_TYPES``.
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    #: ``whsec_`` and base64 (Standard Webhooks); kept, since every attempt signs with it.
    secret: Mapped[str] = mapped_column(String(100), nullable=False)
    #: After a rotation, the old secret also signs until ``previous_secret_expires_at``.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The owner's feed position up to which events have become deliveries.
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    #: When its deliveries started failing without a success since (``None``: healthy).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why the worker turned it off (receiver answered 410, or a day of failures).
    disabled_reason: Mapped[str | None] = mapped_column(String(200))


class WebhookDelivery(db.Model):  # type: ignore[name-defined]
    """One event for one webhook. ``payload``: the exact body every attempt sends;
    ``message_id``: its ``webhook-id``, the same on every attempt and redelivery."""

    __tablename__ = "webhook_delivery"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False
    )
    message_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    #: The event's position in the owner's feed, its change, and its task (``None``
    #: for a ping): deliveries of one task go out in feed order.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    change_id: Mapped[int | None] = mapped_column(BigInteger)
    task_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: When a worker may next send it (pending only).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: A worker sending it holds it until then; after, another may take it over.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(db.Model):  # type: ignore[name-defined]
    """One request made for a delivery: recorded (``sending``) before it is sent, and
    its outcome after, so every request sent has its row, and no row two requests."""

    __tablename__ = "webhook_attempt"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_delivery.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    outcome: Mapped[str] = mapped_column(String(12), nullable=False)
    request_headers: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The first 4 KB of the response body, as text.
    response_body: Mapped[str | None] = mapped_column(Text)
    #: What went wrong without a response (refused address, timeout, connection error).
    error: Mapped[str | None] = mapped_column(String(500))


Index("ix_webhook_user", Webhook.user_id, Webhook.id)
# The worker's claim: due pending deliveries; a webhook's list, newest first; and the
# per-task order check (an earlier pending delivery of the same task holds a later one).
Index("ix_webhook_delivery_due", WebhookDelivery.status, WebhookDelivery.next_attempt_at)
Index("ix_webhook_delivery_webhook", WebhookDelivery.webhook_id, WebhookDelivery.id)
Index(
    "ix_webhook_delivery_task",
    WebhookDelivery.webhook_id,
    WebhookDelivery.task_id,
    WebhookDelivery.status,
    WebhookDelivery.id,
)
Index("ix_webhook_delivery_created", WebhookDelivery.created_at)
Index("ix_webhook_attempt_delivery", WebhookAttempt.delivery_id, WebhookAttempt.number, unique=True)
