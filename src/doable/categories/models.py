from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, func
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from doable.db import TimestampMixin
from doable.extensions import db

task_category = Table(
    "task_category",
    db.metadata,
    Column("task_id", Integer, ForeignKey("task.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", Integer, ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves "categories of a task"; this serves "tasks of a category".
    Index("ix_task_category_category_task", "category_id", "task_id"),
)


class Category(TimestampMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "category"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    color: Mapped[str | None] = mapped_column(String(7), nullable=True)
    #: Filled by the categories service in the query that loads the category.
    task_count: Mapped[int | None] = query_expression()

    def __repr__(self) -> str:
        return f"<Category {self.id} {self.name!r}>"


# Names are unique per owner ignoring case; the index also serves lookups by name.
Index("uq_category_user_name_lower", Category.user_id, func.lower(Category.name), unique=True)
