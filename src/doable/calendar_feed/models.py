"""A user's calendar feed: the token in its URL, stored only as a keyed hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from doable.db import UTCDateTime, utcnow
from doable.extensions import db


class CalendarFeed(db.Model):  # type: ignore[name-defined]
    """The one feed of a user (making a new one revokes the old). ``token_hash``: the
    HMAC-SHA256 of the token under the key API tokens use (``api_token_key``);
    ``prefix``: its first characters, shown on the account page."""

    __tablename__ = "calendar_feed"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
