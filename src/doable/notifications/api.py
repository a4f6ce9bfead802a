"""Notification routes: your list, its unread count, marking read (docs/api.md,
Notifications)."""

from __future__ import annotations

from doable.api import Blueprint
from doable.notifications import models  # noqa: F401  (the table, before any route uses it)

bp = Blueprint(
    "notifications", __name__, url_prefix="/api/notifications", description="Notifications"
)
