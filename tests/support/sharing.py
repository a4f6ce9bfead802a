"""Shares made through the API and read straight from the database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.sharing.models import Share
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient

PROBLEM_JSON = "application/problem+json"


def add_task(api: ApiClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/tasks", account.token, json={"title": "Plan the trip", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


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


def task_ids(app: Flask) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Task.id)))


def user_ref(account: Account) -> dict[str, Any]:
    return {"id": account.id, "username": account.username}
