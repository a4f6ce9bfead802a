"""Reading the change log in tests: a user's whole feed through the API, and the rows
of the log and of the feeds straight from the database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from doable.changes.models import Change, FeedEntry
from doable.extensions import db
from tests.support.factories import Account, ApiClient


def feed(api: ApiClient, account: Account, after: int = 0) -> list[dict[str, Any]]:
    """Every event of ``account``'s feed after ``after``, read page by page."""
    events: list[dict[str, Any]] = []
    while True:
        response = api.get(f"/api/events?after={after}&limit=500", account.token)
        assert response.status_code == 200, response.get_json()
        page = response.get_json()
        events += page["events"]
        after = page["next_after"]
        if not page["has_more"]:
            return events


def actions(events: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    """Each event's action and task."""
    return [(event["action"], event["task_id"]) for event in events]


def logged(app: Flask) -> list[tuple[str, int, str]]:
    """Every change in the log: its entity, entity id and action, in order."""
    with app.app_context():
        query = sa.select(Change.entity, Change.entity_id, Change.action).order_by(Change.id)
        rows = [tuple(row) for row in db.session.execute(query)]
        db.session.remove()
    return rows  # type: ignore[return-value]


def entries(app: Flask) -> list[tuple[int, int, int]]:
    """Every feed entry: user, seq and change, by user then seq."""
    with app.app_context():
        query = sa.select(FeedEntry.user_id, FeedEntry.seq, FeedEntry.change_id).order_by(
            FeedEntry.user_id, FeedEntry.seq
        )
        rows = [tuple(row) for row in db.session.execute(query)]
        db.session.remove()
    return rows  # type: ignore[return-value]


def new_task(api: ApiClient, owner: Account, **fields: Any) -> int:
    response = api.post("/api/tasks", owner.token, json={"title": "A task", **fields})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])
