"""Tasks made through the API and read straight from the database."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient

PROBLEM_JSON = "application/problem+json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


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
