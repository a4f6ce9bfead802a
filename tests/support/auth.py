"""Users and their sessions read straight from the database."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from doable.auth.models import AuthSession, User
from doable.extensions import db
from tests.support.factories import PASSWORD


def users(app: Flask) -> list[tuple[int, str, str]]:
    """Every stored user as (id, username, email), read straight from the database."""
    with app.app_context():
        rows = db.session.execute(
            select(User.id, User.username, User.email).order_by(User.id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def stored_user(app: Flask, user_id: int) -> dict[str, Any] | None:
    with app.app_context():
        user = db.session.get(User, user_id)
        if user is None:
            return None
        return {"username": user.username, "email": user.email, "hash": user.password_hash}


def session_count(app: Flask, user_id: int) -> int:
    with app.app_context():
        query = select(func.count()).select_from(AuthSession)
        return int(db.session.scalar(query.where(AuthSession.user_id == user_id)) or 0)


def revoked_flags(app: Flask, user_id: int) -> list[bool]:
    with app.app_context():
        query = select(AuthSession.revoked_at).where(AuthSession.user_id == user_id)
        return [revoked is not None for revoked in db.session.scalars(query)]


def register_body(**fields: Any) -> dict[str, Any]:
    body = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
    body.update(fields)
    return body
