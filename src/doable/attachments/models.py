from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from doable.db import UTCDateTime, utcnow
from doable.extensions import db


class Attachment(db.Model):  # type: ignore[name-defined]
    __tablename__ = "attachment"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), nullable=False)
    #: Who uploaded it (the owner or an ``edit`` sharee); gone users leave NULL.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    #: The client's name, sanitised, for display and downloads only; never a path.
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    #: As the client declared it; downloads send a safe type instead of trusting it.
    content_type: Mapped[str] = mapped_column(String(255), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


Index("ix_attachment_task", Attachment.task_id, Attachment.id)
