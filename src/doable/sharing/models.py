from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from doable.auth.models import User
from doable.db import TimestampMixin
from doable.extensions import db


class Permission(StrEnum):
    VIEW = "view"
    EDIT = "edit"


class Share(TimestampMixin, db.Model):  # type: ignore[name-defined]
    """``user`` may see (``view``) or also change (``edit``) the task."""

    __tablename__ = "share"
    __table_args__ = (CheckConstraint("permission IN ('view', 'edit')", name="permission_valid"),)

    task_id: Mapped[int] = mapped_column(
        ForeignKey("task.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(10), nullable=False)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


# "Tasks shared with me": the lookup every visible-task query makes.
Index("ix_share_user_task", Share.user_id, Share.task_id)
