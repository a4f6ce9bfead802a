"""A user's personal API tokens, stored only as a keyed hash of the token."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from doable.db import UTCDateTime
from doable.extensions import db

#: What a token may be allowed, each a set of API routes (docs/api.md, API tokens).
SCOPES = ("tasks:read", "tasks:write", "events:read", "webhooks:manage")
#: Every token starts with it, so secret scanners (and people) recognise a leaked one.
TOKEN_PREFIX = "dbl_"  # noqa: S105


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A personal API token. ``token_hash``: the HMAC-SHA256 of the whole token under a
    key derived from the app's secret (the token is random and long, so a fast keyed
    hash protects it; argon2 would cost every request tens of milliseconds).
    ``prefix``: its first characters, shown in lists so a user can tell tokens apart."""

    __tablename__ = "api_token"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    #: A list of ``SCOPES``.
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: ``None``: never expires.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Updated at most once a minute per token, not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("ix_api_token_user", ApiToken.user_id, ApiToken.id)
