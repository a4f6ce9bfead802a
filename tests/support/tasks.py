"""Tasks made through the API and read straight from the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from doable.tasks.models import Priority, Task
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


def insert_tasks(app: Flask, user_id: int, count: int) -> None:
    """``count`` tasks of ``user_id`` (statuses, priorities and due dates in turn),
    straight in the database: many at once, without counting them (``task_count``)."""
    statuses = ["pending", "in_progress", "completed"]
    with app.app_context():
        db.session.add_all(
            Task(
                user_id=user_id,
                title=f"task{n:03d}",
                status=statuses[n % 3],
                priority=Priority((n % 3) + 1),
                due_date=date(2026, 1, 1) + timedelta(days=n % 40) if n % 4 else None,
            )
            for n in range(count)
        )
        db.session.commit()


def task_ids(app: Flask) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Task.id)))


def set_timestamps(app: Flask, times: dict[int, tuple[datetime, datetime]]) -> None:
    """Give each task id its (created_at, updated_at), straight in the database."""
    with app.app_context():
        for task_id, (created, updated) in times.items():
            db.session.execute(
                sa.update(Task)
                .where(Task.id == task_id)
                .values(created_at=created, updated_at=updated)
            )
        db.session.commit()


def get_list(api: ApiClient, account: Account, params: dict[str, Any]) -> Any:
    """GET /api/tasks with ``params`` as the query."""
    return api.get(f"/api/tasks?{urlencode(params)}", account.token)


def ids(rows: list[Any]) -> list[int]:
    return [row.id for row in rows]


def set_zone(app: Flask, account: Account, zone_name: str) -> None:
    """Give ``account`` the time zone ``zone_name``, straight in the database (``PATCH
    /api/me`` is the accounts service's; the tests here are about the tasks')."""
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == account.id).values(timezone=zone_name))
        db.session.commit()


def listed_ids(api: ApiClient, account: Account, **params: Any) -> list[int]:
    """The ids of ``account``'s list with ``params`` (every page of up to 100)."""
    response = get_list(api, account, {"per_page": 100, **params})
    assert response.status_code == 200, response.get_json()
    return [task["id"] for task in response.get_json()["tasks"]]
