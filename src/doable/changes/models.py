"""The change log, each user's feed of it, and the answers kept for retried requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from doable.db import UTCDateTime
from doable.extensions import db

#: 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is 64-bit already (and only
#: that spelling makes it the rowid, numbered by the database).
BigId = BigInteger().with_variant(Integer(), "sqlite")
#: The highest ``seq`` a query may name: within a 64-bit column, and a JavaScript client
#: reads it exactly only below 2**53 anyway.
MAX_SEQ = 2**62


class Change(db.Model):  # type: ignore[name-defined]
    """One change, as it was made: written in the transaction that made it
    (``doable.changes.log``), never updated, pruned after the retention period.

    ``changes`` holds each changed field as ``[old, new]``, as the API shows the field
    (a created task: every field ``[null, value]``; a deleted one: ``[value, null]``).
    ``actor_id`` and ``task_id`` are plain numbers, not foreign keys: the log outlives
    the accounts and tasks it names."""

    __tablename__ = "change"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    #: ``task``, ``attachment`` or ``category``.
    entity: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_id: Mapped[int] = mapped_column(Integer, nullable=False)
    #: The task the change is about (every entity but a category).
    task_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    #: The task's version after the change.
    version: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class FeedEntry(db.Model):  # type: ignore[name-defined]
    """A change in one user's feed, at their ``seq``: dense and increasing per user,
    assigned in the change's transaction. ``data``: what this user alone is shown with
    it (a new sharee: the task as they see it)."""

    __tablename__ = "feed_entry"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    change_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("change.id", ondelete="CASCADE"), nullable=False
    )
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class FeedCursor(db.Model):  # type: ignore[name-defined]
    """Each user's last ``seq``. Writers of one user's feed take turns on this row, from
    the moment they number their entries to their commit."""

    __tablename__ = "feed_cursor"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class IdempotentRequest(db.Model):  # type: ignore[name-defined]
    """A write sent with an ``Idempotency-Key``: claimed in the transaction of its
    change, its response kept for retries (24 h). ``fingerprint``: a hash of the
    method, path and body, so the same key with another request is refused."""

    __tablename__ = "idempotent_request"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: ``None`` until the response is kept.
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)


# A task's history, newest first; pruning by age.
Index("ix_change_task", Change.task_id, Change.id)
Index("ix_change_at", Change.at)
# Pruning a change takes its feed entries with it.
Index("ix_feed_entry_change", FeedEntry.change_id)
Index("ix_idempotent_request_created", IdempotentRequest.created_at)
