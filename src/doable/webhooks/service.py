"""Webhook use cases: a user's webhooks, their secrets and their deliveries
(docs/api.md, Webhooks). Deliveries are queued only through ``webhooks.queue``; the
worker sends them (``webhooks.delivery``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from doable.auth.models import User
from doable.changes.service import feed_position
from doable.db import Paged, utcnow, valid_id
from doable.errors import Conflict, NotFound, ProblemType
from doable.extensions import db
from doable.ownership import count_owned_in_turn, owned
from doable.settings import settings
from doable.unit_of_work import use_case
from doable.webhooks import queue, signing
from doable.webhooks.models import PENDING, PING, Webhook, WebhookAttempt, WebhookDelivery

#: How long the old secret still signs after a rotation.
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class DeliveryLog:
    """A delivery with its attempts, oldest first (``DeliveryRead``)."""

    delivery: WebhookDelivery
    attempts_log: list[WebhookAttempt]

    @property
    def last_response_status(self) -> int | None:
        return self.attempts_log[-1].response_status if self.attempts_log else None


@dataclass(frozen=True, kw_only=True)
class DeliveryPage(Paged):
    deliveries: list[DeliveryLog]


@dataclass(frozen=True)
class RotatedSecret:
    secret: str
    previous_secret_expires_at: datetime


def list_webhooks(*, user: User) -> list[Webhook]:
    """The user's webhooks, oldest first (at most ``DOABLE_MAX_WEBHOOKS_PER_USER``)."""
    query = select(Webhook).where(Webhook.user_id == user.id).order_by(Webhook.id)
    return list(db.session.scalars(query))


def get_webhook_for(*, user: User, webhook_id: int) -> Webhook:
    """The user's webhook, or NotFound (also for another user's)."""
    webhook = owned(Webhook, webhook_id, user.id)
    if webhook is None:
        raise NotFound(
            f"Webhook {webhook_id} not found", problem_type=ProblemType.WEBHOOK_NOT_FOUND
        )
    return webhook


def disabled_webhook(*, user_id: int) -> Webhook | None:
    """A webhook of the user that Doable turned off (``disabled_reason``) and that is
    still off: every page tells its owner until they resume or delete it. One query
    on the user's webhooks (``ix_webhook_user``)."""
    query = (
        select(Webhook)
        .where(
            Webhook.user_id == user_id,
            Webhook.active.is_(False),
            Webhook.disabled_reason.is_not(None),
        )
        .order_by(Webhook.id)
        .limit(1)
    )
    return db.session.scalars(query).first()


@use_case
def create_webhook(*, user: User, url: str, events: list[str], description: str = "") -> Webhook:
    """A new webhook with a new secret. It gets the changes made from now on: its feed
    position starts at the user's latest change."""
    _ensure_room(user.id)
    webhook = Webhook(
        user_id=user.id,
        url=url,
        events=events,
        description=description,
        active=True,
        secret=signing.new_secret(),
        last_seq=feed_position(user.id),
    )
    db.session.add(webhook)
    db.session.flush()
    return webhook


@use_case
def update_webhook(
    *, user: User, webhook_id: int, active: bool | None = None, **changes: Any
) -> Webhook:
    """Change what is given. ``active=True`` on an inactive webhook resumes it, a
    disabled one too (its reason and failure clock are cleared): it goes on from its
    feed position, with the changes the feed still holds."""
    webhook = get_webhook_for(user=user, webhook_id=webhook_id)
    for key, value in changes.items():
        setattr(webhook, key, value)
    if active is not None and active != webhook.active:
        webhook.active = active
        if active:
            webhook.disabled_reason = None
            webhook.failing_since = None
    db.session.flush()
    return webhook


@use_case
def delete_webhook(*, user: User, webhook_id: int) -> Webhook:
    """Delete the webhook; its deliveries and their attempts go with it (foreign keys)."""
    webhook = get_webhook_for(user=user, webhook_id=webhook_id)
    db.session.delete(webhook)
    return webhook


@use_case
def send_test(*, user: User, webhook_id: int) -> DeliveryLog:
    """Queue a ``ping``. While one is still pending, that one is sent again now instead
    (the same ``webhook-id``): pressing the button twice queues one ping, not two."""
    webhook = get_webhook_for(user=user, webhook_id=webhook_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.webhook_id == webhook.id,
        WebhookDelivery.status == PENDING,
        WebhookDelivery.event_type == PING,
    )
    delivery = db.session.scalars(query.limit(1)).first()
    if delivery is None:
        delivery = queue.enqueue(webhook, PING, {"webhook_id": webhook.id})
    else:
        queue.send_again(delivery)
    return _with_attempts(delivery)


@use_case
def rotate_secret(*, user: User, webhook_id: int) -> RotatedSecret:
    """A new secret; the current one goes on signing for 24 hours, next to it. A second
    rotation within those hours replaces the older one at once: two secrets at most."""
    webhook = get_webhook_for(user=user, webhook_id=webhook_id)
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = utcnow() + PREVIOUS_SECRET_LIFETIME
    webhook.secret = signing.new_secret()
    db.session.flush()
    return RotatedSecret(webhook.secret, webhook.previous_secret_expires_at)


def list_deliveries(
    *, user: User, webhook_id: int, status: str | None = None, page: int = 1, per_page: int = 10
) -> DeliveryPage:
    """One page of the webhook's deliveries, newest first, each with its attempts."""
    webhook = get_webhook_for(user=user, webhook_id=webhook_id)
    wanted = [WebhookDelivery.webhook_id == webhook.id]
    if status is not None:
        wanted.append(WebhookDelivery.status == status)
    total = db.session.scalar(select(func.count()).where(*wanted)) or 0
    deliveries: list[WebhookDelivery] = []
    if (page - 1) * per_page < total:
        query = (
            select(WebhookDelivery)
            .where(*wanted)
            .order_by(WebhookDelivery.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        deliveries = list(db.session.scalars(query))
    logs = _attempts_of(deliveries)
    return DeliveryPage(deliveries=logs, total=total, page=page, per_page=per_page)


def get_delivery_for(*, user: User, webhook_id: int, delivery_id: int) -> DeliveryLog:
    """A delivery of the user's webhook with its attempts, or NotFound."""
    return _with_attempts(_delivery_row(user, webhook_id, delivery_id))


@use_case
def redeliver(*, user: User, webhook_id: int, delivery_id: int) -> DeliveryLog:
    """Send a delivery again, with the same body and ``webhook-id``."""
    delivery = _delivery_row(user, webhook_id, delivery_id)
    queue.send_again(delivery)
    return _with_attempts(delivery)


def recent_delivery_counts(
    *, webhooks: list[Webhook], since: datetime
) -> dict[int, dict[str, int]]:
    """For each of these webhooks, how many of its deliveries queued since ``since``
    are in each status (one query, for the webhooks page)."""
    if not webhooks:
        return {}
    query = (
        select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count())
        .where(
            WebhookDelivery.webhook_id.in_([webhook.id for webhook in webhooks]),
            WebhookDelivery.created_at >= since,
        )
        .group_by(WebhookDelivery.webhook_id, WebhookDelivery.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for webhook_id, status, count in db.session.execute(query):
        counts.setdefault(webhook_id, {})[status] = count
    return counts


def _delivery_row(user: User, webhook_id: int, delivery_id: int) -> WebhookDelivery:
    webhook = get_webhook_for(user=user, webhook_id=webhook_id)
    delivery = None
    if valid_id(delivery_id):
        query = select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook.id
        )
        delivery = db.session.scalars(query).one_or_none()
    if delivery is None:
        raise NotFound(
            f"Delivery {delivery_id} of webhook {webhook_id} not found",
            problem_type=ProblemType.DELIVERY_NOT_FOUND,
        )
    return delivery


def _with_attempts(delivery: WebhookDelivery) -> DeliveryLog:
    return _attempts_of([delivery])[0]


def _attempts_of(deliveries: list[WebhookDelivery]) -> list[DeliveryLog]:
    """The deliveries with their attempts, read in one query."""
    attempts: dict[int, list[WebhookAttempt]] = {delivery.id: [] for delivery in deliveries}
    if attempts:
        query = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        )
        for attempt in db.session.scalars(query):
            attempts[attempt.delivery_id].append(attempt)
    return [DeliveryLog(delivery, attempts[delivery.id]) for delivery in deliveries]


class WebhookLimitReached(Conflict):
    """The owner has ``DOABLE_MAX_WEBHOOKS_PER_USER`` webhooks."""


def _ensure_room(owner_id: int) -> None:
    """Conflict unless the owner may have one more webhook: each webhook costs a
    delivery per event, so their number is bounded."""
    have = count_owned_in_turn(Webhook, owner_id)
    limit = settings().max_webhooks_per_user
    if have >= limit:
        raise WebhookLimitReached(
            f"At most {limit} webhooks per user, and you have {have}. Delete one you no "
            "longer use, or subscribe one webhook to more events.",
            problem_type=ProblemType.WEBHOOK_LIMIT_REACHED,
            limit=limit,
        )
