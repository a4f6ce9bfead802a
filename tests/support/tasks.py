"""Tasks made through the API and read straight from the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient


def task_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.query(Task).count())


def parse_timestamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def create(api: ApiClient, account: Account, **fields: Any) -> dict[str, Any]:
    body = {"title": "Learn Flask", **fields}
    response = api.post("/api/tasks", account.token, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def task_ids(app: Flask) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Task.id)))
