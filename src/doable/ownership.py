"""Rows a user owns (``user_id``): the guard that finds one of theirs, and the count a
bounded kind of row is checked against. API tokens and webhooks both use them."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select

from doable.auth.models import User
from doable.db import begin_write, valid_id
from doable.extensions import db

Row = TypeVar("Row")


def owned(model: type[Row], row_id: int, owner_id: int) -> Row | None:
    """The row ``row_id`` of ``model`` when ``owner_id`` owns it, else None (an id
    beyond the 32-bit range is nobody's)."""
    if not valid_id(row_id):
        return None
    table: Any = model
    query = select(model).where(table.id == row_id, table.user_id == owner_id)
    return db.session.scalars(query).one_or_none()


def count_owned_in_turn(model: type[Any], owner_id: int) -> int:
    """How many rows of ``model`` the owner has, counted after taking the owner's turn:
    creators for one owner wait for each other from here to their commit, so two of
    them cannot both see room for the last one."""
    begin_write(db.session, select(User.id).where(User.id == owner_id))
    return db.session.scalar(select(func.count()).where(model.user_id == owner_id)) or 0
