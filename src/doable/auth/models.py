from __future__ import annotations

import unicodedata
from datetime import datetime, time

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from doable.db import TimestampMixin, UTCDateTime, utcnow
from doable.extensions import db
from doable.reminders.models import Digest  # mapped before User's relationship names it

#: Longest ``email_key``: folding can lengthen an address ("ß" -> "ss"), and the key
#: must stay small enough for a unique index on every backend.
MAX_EMAIL_KEY = 320
#: The colour themes a user can choose (``User.theme``).
THEMES = ("system", "light", "dark")


def fold(text: str) -> str:
    """How usernames and emails are compared "ignoring case": Unicode compatibility
    normalisation and full case folding (NFKC_Casefold), computed here rather than by
    the database, whose ``lower()`` differs between backends ("İ", final "ς")."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


class User(TimestampMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "user"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    #: ``fold(username)`` and ``fold(email)``, kept in step by ``_fold``: what lookups
    #: and the unique indexes compare.
    username_key: Mapped[str] = mapped_column(String(32), nullable=False)
    email_key: Mapped[str] = mapped_column(String(MAX_EMAIL_KEY), nullable=False)
    #: Failed logins in a row and when the last attempt was counted (``auth.throttle``).
    login_failures: Mapped[int] = mapped_column(default=0, server_default="0", nullable=False)
    login_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The networks (an IPv4 address, an IPv6 /64) of its last successful logins, most
    #: recent first, space-separated: failures elsewhere do not slow these down.
    login_networks: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The IANA zone the user lives in (``doable.tasks.recurrence.ZONES``): their
    #: "today" and "overdue", and the zone of their tasks that name none.
    timezone: Mapped[str] = mapped_column(
        String(64), nullable=False, default="UTC", server_default="UTC"
    )
    #: The channels their reminders and digest reach them on (email only when the
    #: server has SMTP settings: README, Configuration).
    remind_in_app: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    remind_by_email: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    #: The pages' colour theme: ``system`` (the browser's colour scheme), ``light`` or
    #: ``dark`` (``THEMES``).
    theme: Mapped[str] = mapped_column(
        String(6), nullable=False, default="system", server_default="system"
    )
    #: Whether the user chose ``timezone`` (at sign-up from their browser, on the account
    #: page, or through the API); until they do, a web login adopts the browser's zone.
    zone_chosen: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    #: Their daily digest, written by ``reminders.schedule.set_digest``; none: off.
    digest: Mapped[Digest | None] = relationship(viewonly=True, lazy="select")

    @property
    def digest_at(self) -> time | None:
        """The local time of their daily digest; None: no digest."""
        return None if self.digest is None else self.digest.at

    @validates("username", "email")
    def _fold(self, name: str, value: str) -> str:
        setattr(self, f"{name}_key", fold(value))
        return value

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"


# Usernames and emails are unique ignoring case, enforced by the database.
Index("uq_user_username_key", User.username_key, unique=True)
Index("uq_user_email_key", User.email_key, unique=True)


class AuthSession(db.Model):  # type: ignore[name-defined]
    """One login: the family of refresh tokens rotated from it and their access tokens.

    Only the newest refresh token (``refresh_jti``) is valid; presenting an older one
    means it was stolen or replayed, and the whole session is revoked. Logout and a
    password change set ``revoked_at``, which every access token check reads.
    """

    __tablename__ = "auth_session"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True
    )
    refresh_jti: Mapped[str] = mapped_column(String(36), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
