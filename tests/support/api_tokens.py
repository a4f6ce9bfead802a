"""Personal API tokens for tests: made through the API, and read straight from the
database."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from doable.api_tokens.models import SCOPES, ApiToken
from doable.extensions import db
from tests.support.factories import Account, ApiClient


def new_token(
    api: ApiClient, account: Account, scopes: list[str] | tuple[str, ...] = SCOPES, **fields: Any
) -> dict[str, Any]:
    """``account`` creates a token (every scope unless told); its answer, token included."""
    body = {"name": fields.pop("name", "script"), "scopes": list(scopes), **fields}
    response = api.post("/api/tokens", account.token, json=body)
    assert response.status_code == 201, response.get_json()
    return response.json  # type: ignore[no-any-return]


def stored_tokens(app: Flask, user_id: int | None = None) -> list[dict[str, Any]]:
    """Every stored token row (of one user), oldest first, as the database holds it."""
    with app.app_context():
        query = select(ApiToken).order_by(ApiToken.id)
        if user_id is not None:
            query = query.where(ApiToken.user_id == user_id)
        return [
            {
                column.name: getattr(row, column.key)
                for column in ApiToken.__table__.columns  # type: ignore[attr-defined]
            }
            for row in db.session.scalars(query)
        ]
