"""Shares made through the API and read straight from the database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.sharing.models import Share
from tests.support.factories import Account, ApiClient
from tests.support.tasks import create


def add_task(api: ApiClient, account: Account, **fields: Any) -> dict[str, Any]:
    return create(api, account, **{"title": "Plan the trip", **fields})


def post_share(api: ApiClient, owner: Account, task_id: int, **body: Any) -> Any:
    return api.post(f"/api/tasks/{task_id}/share", owner.token, json=body)


def share_rows(app: Flask) -> list[tuple[int, int, str]]:
    """Every share, straight from the database: (task_id, user_id, permission)."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Share.task_id, Share.user_id, Share.permission).order_by(
                Share.task_id, Share.user_id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def user_ref(account: Account) -> dict[str, Any]:
    return {"id": account.id, "username": account.username}
