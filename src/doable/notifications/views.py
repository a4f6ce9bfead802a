"""The notifications page: your list, newest first, each with a button to mark it read;
and the unread count in every page's navigation (``unread_notifications``, one COUNT),
which static/live/notifications.js keeps current from the socket's ``notification``
events."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from doable.auth.models import User
from doable.notifications import service
from doable.schemas import MAX_PAGE
from doable.web import Page
from doable.web.forms import ConfirmForm
from doable.web.session import login_required, signed_in_user

bp = Blueprint("notifications", __name__)
log = logging.getLogger(__name__)
PER_PAGE = 20


@bp.app_context_processor
def _unread() -> dict[str, Any]:
    """``unread_notifications`` for base.html's badge: signed-in pages only."""
    try:
        user = signed_in_user()
        count = service.unread_count(user=user.id) if user is not None else 0
    except SQLAlchemyError:  # the error page saying the database is down needs no count
        log.warning("page rendered without its unread count: the database did not answer")
        count = 0
    return {"unread_notifications": count}


@bp.get("/notifications")
@login_required
def index(user: User) -> Page:
    number = request.args.get("page", 1, type=int) or 1
    page = service.list_notifications(
        user=user, page=min(max(number, 1), MAX_PAGE), per_page=PER_PAGE
    )
    return render_template("notifications.html", page=page, form=ConfirmForm())


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def mark_read(user: User, notification_id: int) -> Page:
    if ConfirmForm().validate_on_submit():
        service.mark_read(user=user, ids=[notification_id])
    return redirect(url_for(".index"))


@bp.post("/notifications/read")
@login_required
def mark_all_read(user: User) -> Page:
    if ConfirmForm().validate_on_submit():
        service.mark_all_read(user=user)
    return redirect(url_for(".index"))
