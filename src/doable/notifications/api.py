"""Notification routes: your list, its unread count, marking read (docs/api.md,
Reminders and notifications)."""

from __future__ import annotations

from typing import Any

from doable.api import Blueprint
from doable.api.auth import auth_required, current_user
from doable.notifications import service
from doable.notifications.schemas import (
    MarkedRead,
    NotificationListQuery,
    NotificationPage,
    NotificationRead,
)

bp = Blueprint(
    "notifications", __name__, url_prefix="/api/notifications", description="Notifications"
)


@bp.get("")
@auth_required(scope="tasks:read")
@bp.arguments(NotificationListQuery, location="query", as_kwargs=True)
@bp.response(200, NotificationPage)
def list_notifications(**query: Any) -> Any:
    """Your notifications, newest first, with how many are unread"""
    return service.list_notifications(user=current_user, **query)


@bp.post("/<int:notification_id>/read")
@auth_required(scope="tasks:write")
@bp.response(200, NotificationRead)
@bp.alt_response(404, response="NOT_FOUND")
def mark_read(notification_id: int) -> Any:
    """Mark one of your notifications read (one already read is left as it is)"""
    [notification] = service.mark_read(user=current_user, ids=[notification_id])
    return notification


@bp.post("/read")
@auth_required(scope="tasks:write")
@bp.response(200, MarkedRead)
def mark_all_read() -> Any:
    """Mark all your notifications read"""
    service.mark_all_read(user=current_user)
    return {"unread": service.unread_count(user=current_user)}
