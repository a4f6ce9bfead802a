"""In-app notifications: what a user is told (a reminder, missed reminders, a digest)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doable.changes.models import BigId
from doable.db import UTCDateTime, utcnow
from doable.extensions import db


class Notification(db.Model):  # type: ignore[name-defined]
    """One notice in a user's list. ``kind``: ``reminders.models.KINDS``; ``data``: what
    a client needs to show it (the occurrence, its local and UTC times, the tasks a
    digest or missed notice names)."""

    __tablename__ = "notification"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_notification_user", Notification.user_id, Notification.id)
Index("ix_notification_user_unread", Notification.user_id, Notification.read_at)
