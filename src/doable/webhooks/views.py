"""The webhooks pages: list, create (the secret shown once), one webhook with its edit
form and recent deliveries (redeliver, test ping, rotate the secret), one delivery
with its attempts, delete; and the notice on every page when Doable disabled one."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict

from doable.auth.models import User
from doable.db import utcnow
from doable.errors import ValidationFailed
from doable.web import Page
from doable.web.forms import ConfirmForm
from doable.web.session import login_required, signed_in_user
from doable.webhooks import service
from doable.webhooks.forms import WebhookEditForm, WebhookForm
from doable.webhooks.models import DELIVERY_STATUSES, Webhook
from doable.webhooks.schemas import DeliveryListQuery, WebhookCreate, WebhookUpdate

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)
#: Deliveries one webhook's page shows at a time, newest first (``?page=``, ``?status=``).
DELIVERIES_PER_PAGE = 20
#: The list counts the deliveries queued this recently, by status.
RECENT = timedelta(hours=24)


@bp.app_context_processor
def _disabled_notice() -> dict[str, Any]:
    """``disabled_webhook`` for base.html's notice: signed-in pages only, one query."""
    try:
        user = signed_in_user()
        webhook = service.disabled_webhook(user_id=user.id) if user is not None else None
    except SQLAlchemyError:  # the error page saying the database is down needs no notice
        log.warning("page rendered without its webhook notice: the database did not answer")
        webhook = None
    return {"disabled_webhook": webhook}


@bp.get("/webhooks")
@login_required
def index(user: User) -> Page:
    webhooks = service.list_webhooks(user=user)
    counts = service.recent_delivery_counts(webhooks=webhooks, since=utcnow() - RECENT)
    return render_template("webhooks/list.html", webhooks=webhooks, counts=counts)


@bp.route("/webhooks/new", methods=["GET", "POST"])
@login_required
def create(user: User) -> Page:
    form = WebhookForm()
    if not form.is_submitted():
        return render_template("webhooks/new.html", form=form)
    data = form.validate_with(WebhookCreate(), form.webhook_fields())
    if data is None:
        return render_template("webhooks/new.html", form=form), 400
    try:
        webhook = service.create_webhook(user=user, **data)
    except service.WebhookLimitReached as exc:
        form.add_errors({"body": [exc.detail]})
        return render_template("webhooks/new.html", form=form), 409
    return render_template("webhooks/secret.html", webhook=webhook, secret=webhook.secret)


@bp.get("/webhooks/<int:webhook_id>")
@login_required
def detail(user: User, webhook_id: int) -> Page:
    webhook = service.get_webhook_for(user=user, webhook_id=webhook_id)
    return _detail_page(user, webhook, _edit_form(webhook))


@bp.post("/webhooks/<int:webhook_id>")
@login_required
def update(user: User, webhook_id: int) -> Page:
    form = WebhookEditForm()
    data = form.validate_with(WebhookUpdate(), form.webhook_fields())
    if data is None:  # the guard first: 404 before the form's errors
        webhook = service.get_webhook_for(user=user, webhook_id=webhook_id)
        return _detail_page(user, webhook, form, status=400)
    service.update_webhook(user=user, webhook_id=webhook_id, **data)
    flash("Webhook saved.", "success")
    return redirect(url_for(".detail", webhook_id=webhook_id))


@bp.post("/webhooks/<int:webhook_id>/test")
@login_required
def ping(user: User, webhook_id: int) -> Page:
    sent = service.send_test(user=user, webhook_id=webhook_id)
    flash(f"Test ping queued (delivery {sent.delivery.id}).", "success")
    return redirect(url_for(".detail", webhook_id=webhook_id))


@bp.post("/webhooks/<int:webhook_id>/rotate-secret")
@login_required
def rotate_secret(user: User, webhook_id: int) -> Page:
    rotated = service.rotate_secret(user=user, webhook_id=webhook_id)
    webhook = service.get_webhook_for(user=user, webhook_id=webhook_id)
    return render_template(
        "webhooks/secret.html",
        webhook=webhook,
        secret=rotated.secret,
        previous_expires_at=rotated.previous_secret_expires_at,
    )


@bp.get("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>")
@login_required
def delivery(user: User, webhook_id: int, delivery_id: int) -> Page:
    webhook = service.get_webhook_for(user=user, webhook_id=webhook_id)
    found = service.get_delivery_for(user=user, webhook_id=webhook_id, delivery_id=delivery_id)
    body = json.dumps(json.loads(found.delivery.payload), indent=2, ensure_ascii=False)
    return render_template("webhooks/delivery.html", webhook=webhook, log=found, body=body)


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
@login_required
def redeliver(user: User, webhook_id: int, delivery_id: int) -> Page:
    service.redeliver(user=user, webhook_id=webhook_id, delivery_id=delivery_id)
    flash(f"Delivery {delivery_id} queued again, with the same webhook-id.", "success")
    return redirect(url_for(".detail", webhook_id=webhook_id))


@bp.route("/webhooks/<int:webhook_id>/delete", methods=["GET", "POST"])
@login_required
def delete(user: User, webhook_id: int) -> Page:
    form = ConfirmForm()
    if form.validate_on_submit():  # the service runs the guard
        deleted = service.delete_webhook(user=user, webhook_id=webhook_id)
        flash(f"Webhook to {deleted.url} deleted.", "success")
        return redirect(url_for(".index"))
    webhook = service.get_webhook_for(user=user, webhook_id=webhook_id)
    return render_template(
        "confirm.html",
        form=form,
        question=f"Delete the webhook to {webhook.url}?",
        consequence="Nothing more is sent to it, and its delivery log goes with it. "
        "This cannot be undone.",
        button="Delete webhook",
        cancel=url_for(".detail", webhook_id=webhook_id),
    )


def _edit_form(webhook: Webhook) -> WebhookEditForm:
    fields = ("url", "events", "description", "active")
    return WebhookEditForm(formdata=None, data={key: getattr(webhook, key) for key in fields})


def _detail_page(
    user: User, webhook: Webhook, form: WebhookEditForm, status: int = 200
) -> tuple[str, int]:
    """One webhook: its edit form and a page of its deliveries (``?status=``, ``?page=``)."""
    query = _delivery_query()
    page = service.list_deliveries(
        user=user, webhook_id=webhook.id, per_page=DELIVERIES_PER_PAGE, **query
    )
    html = render_template(
        "webhooks/detail.html",
        webhook=webhook,
        form=form,
        page=page,
        status_filter=query.get("status"),
        statuses=DELIVERY_STATUSES,
        now=utcnow(),
    )
    return html, status


def _delivery_query() -> dict[str, Any]:
    """``?status=`` and ``?page=``, checked by the API's own schema (400 page if bad)."""
    args = MultiDict(
        [(key, value) for key, value in request.args.items(multi=True) if key in ("status", "page")]
    )
    try:
        query: dict[str, Any] = DeliveryListQuery().load(args)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages_dict) from None
    query.pop("per_page", None)
    return query
