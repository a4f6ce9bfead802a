"""Updating tasks with PUT and PATCH (docs/api.md, Tasks): partial bodies, timestamps,
and refused updates that change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import TIMESTAMP, Account, ApiClient, assert_problem, stored_task
from tests.support.tasks import create, parse_timestamp

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def backdate(app: Flask, task_id: int, when: datetime = LONG_AGO) -> None:
    """Move a task's timestamps into the past, so an update must visibly change them."""
    with app.app_context():
        db.session.execute(
            sa.update(Task).where(Task.id == task_id).values(created_at=when, updated_at=when)
        )
        db.session.commit()


# --- POST /api/tasks -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_read_only_fields_returns_400_naming_them_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, bob: Account, method: str
) -> None:
    task = create(api, alice)
    before = stored_task(app, task["id"])

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}",
        alice.token,
        json={"title": "Taken over", "user_id": bob.id, "owner": {"id": bob.id}, "id": 5},
    )

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {"user_id", "owner", "id"}
    assert stored_task(app, task["id"]) == before


# --- PUT / PATCH /api/tasks/<id> -------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_partial_body_keeps_unsent_fields(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    task = create(
        api,
        alice,
        description="Complete Flask tutorial",
        priority="high",
        due_date="2026-01-10",
    )

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, json={"status": "completed"}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "completed"
    for name in ("id", "title", "description", "priority", "due_date", "owner", "access"):
        assert body[name] == task[name], name
    row = stored_task(app, task["id"])
    assert row is not None
    assert (row["title"], row["description"], row["status"]) == (
        "Learn Flask",
        "Complete Flask tutorial",
        "completed",
    )
    assert (row["priority"], row["due_date"]) == (3, date(2026, 1, 10))


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_every_field_returns_and_stores_them(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    task = create(api, alice)
    changes = {
        "title": "Build API",
        "description": "REST",
        "status": "in_progress",
        "priority": "low",
        "due_date": "2027-03-04",
    }

    response = getattr(api, method)(f"/api/tasks/{task['id']}", alice.token, json=changes)

    assert response.status_code == 200
    assert {key: response.get_json()[key] for key in changes} == changes
    row = stored_task(app, task["id"])
    assert row is not None
    assert (row["title"], row["description"], row["status"]) == ("Build API", "REST", "in_progress")
    assert (row["priority"], row["due_date"]) == (1, date(2027, 3, 4))


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_moves_updated_at_and_keeps_created_at(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    task = create(api, alice)
    backdate(app, task["id"])
    before = datetime.now(UTC).replace(microsecond=0)

    response = getattr(api, method)(f"/api/tasks/{task['id']}", alice.token, json={"title": "x"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["created_at"] == "2020-01-01T00:00:00Z"
    assert TIMESTAMP.match(body["updated_at"])
    assert parse_timestamp(body["updated_at"]) >= before
    row = stored_task(app, task["id"])
    assert row is not None
    assert row["created_at"] == LONG_AGO
    assert row["updated_at"] >= before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_due_date_null_clears_it(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    task = create(api, alice, due_date="2026-01-10")

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, json={"due_date": None}
    )

    assert response.status_code == 200
    assert response.get_json()["due_date"] is None
    row = stored_task(app, task["id"])
    assert row is not None
    assert row["due_date"] is None
    assert row["title"] == "Learn Flask"


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_invalid_fields_returns_400_naming_them_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    task = create(api, alice)
    before = stored_task(app, task["id"])

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}",
        alice.token,
        json={"title": "", "status": "done", "priority": "urgent", "due_date": "2026-13-01"},
    )

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {"title", "status", "priority", "due_date"}
    assert stored_task(app, task["id"]) == before
