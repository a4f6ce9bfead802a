"""Webhook routes: your webhooks, their secrets, test pings and deliveries
(docs/api.md, Webhooks). API tokens need the ``webhooks:manage`` scope."""

from __future__ import annotations

from typing import Any

from flask import url_for

from doable.api import Blueprint
from doable.api.auth import auth_required, current_user
from doable.schemas import LIMIT_REACHED
from doable.webhooks import service
from doable.webhooks.schemas import (
    DeliveryListQuery,
    DeliveryPage,
    DeliveryRead,
    NewWebhookRead,
    RotatedSecretRead,
    WebhookCreate,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
)

bp = Blueprint("webhooks", __name__, url_prefix="/api", description="Webhooks")
SCOPE = "webhooks:manage"


@bp.get("/webhooks")
@auth_required(scope=SCOPE)
@bp.response(200, WebhookList)
def list_webhooks() -> Any:
    """Your webhooks, oldest first (without their secrets)"""
    return {"webhooks": service.list_webhooks(user=current_user)}


@bp.post("/webhooks")
@auth_required(scope=SCOPE)
@bp.arguments(WebhookCreate)
@bp.response(201, NewWebhookRead)
@bp.alt_response(409, **LIMIT_REACHED)
def create_webhook(data: dict[str, Any]) -> Any:
    """Create a webhook; its signing secret is in this answer only

    It is sent the events of your feed from now on. 409 (`webhook-limit-reached`, with
    `limit`) when you have DOABLE_MAX_WEBHOOKS_PER_USER (20) webhooks.
    """
    webhook = service.create_webhook(user=current_user, **data)
    return webhook, 201, {"Location": url_for(".get_webhook", webhook_id=webhook.id)}


@bp.get("/webhooks/<int:webhook_id>")
@auth_required(scope=SCOPE)
@bp.response(200, WebhookRead)
@bp.alt_response(404, response="NOT_FOUND")
def get_webhook(webhook_id: int) -> Any:
    """One of your webhooks"""
    return service.get_webhook_for(user=current_user, webhook_id=webhook_id)


@bp.patch("/webhooks/<int:webhook_id>")
@auth_required(scope=SCOPE)
@bp.arguments(WebhookUpdate)
@bp.response(200, WebhookRead)
@bp.alt_response(404, response="NOT_FOUND")
def update_webhook(changes: dict[str, Any], webhook_id: int) -> Any:
    """Change a webhook's URL, events or description, pause it or resume it

    `active: true` resumes a webhook Doable disabled, clearing `disabled_reason`: it
    goes on from where it stopped, with the changes your feed still holds.
    """
    return service.update_webhook(user=current_user, webhook_id=webhook_id, **changes)


@bp.delete("/webhooks/<int:webhook_id>")
@auth_required(scope=SCOPE)
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def delete_webhook(webhook_id: int) -> None:
    """Delete a webhook and its deliveries"""
    service.delete_webhook(user=current_user, webhook_id=webhook_id)


@bp.post("/webhooks/<int:webhook_id>/test")
@auth_required(scope=SCOPE)
@bp.response(202, DeliveryRead)
@bp.alt_response(404, response="NOT_FOUND")
def ping_webhook(webhook_id: int) -> Any:
    """Send a `ping` event to the webhook (queued: the answer is its delivery)"""
    log = service.send_test(user=current_user, webhook_id=webhook_id)
    return log, 202, {"Location": _delivery_url(webhook_id, log.delivery.id)}


@bp.post("/webhooks/<int:webhook_id>/rotate-secret")
@auth_required(scope=SCOPE)
@bp.response(200, RotatedSecretRead)
@bp.alt_response(404, response="NOT_FOUND")
def rotate_webhook_secret(webhook_id: int) -> Any:
    """Give the webhook a new secret; the old one also signs for 24 hours"""
    return service.rotate_secret(user=current_user, webhook_id=webhook_id)


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@auth_required(scope=SCOPE)
@bp.arguments(DeliveryListQuery, location="query", as_kwargs=True)
@bp.response(200, DeliveryPage)
@bp.alt_response(404, response="NOT_FOUND")
def list_webhook_deliveries(webhook_id: int, **query: Any) -> Any:
    """The webhook's deliveries, newest first, each with every attempt made

    `status` (`pending`, `succeeded`, `failed`) keeps those in that state; `page` and
    `per_page` (1-100, default 10) as for `GET /api/tasks`.
    """
    return service.list_deliveries(user=current_user, webhook_id=webhook_id, **query)


@bp.get("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>")
@auth_required(scope=SCOPE)
@bp.response(200, DeliveryRead)
@bp.alt_response(404, response="NOT_FOUND")
def get_webhook_delivery(webhook_id: int, delivery_id: int) -> Any:
    """One delivery with every attempt made"""
    return service.get_delivery_for(
        user=current_user, webhook_id=webhook_id, delivery_id=delivery_id
    )


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
@auth_required(scope=SCOPE)
@bp.response(202, DeliveryRead)
@bp.alt_response(404, response="NOT_FOUND")
def redeliver_webhook_delivery(webhook_id: int, delivery_id: int) -> Any:
    """Send a delivery again now, with the same body and `webhook-id`"""
    return service.redeliver(user=current_user, webhook_id=webhook_id, delivery_id=delivery_id)


def _delivery_url(webhook_id: int, delivery_id: int) -> str:
    return url_for(".get_webhook_delivery", webhook_id=webhook_id, delivery_id=delivery_id)
