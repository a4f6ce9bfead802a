"""Categories and tasks made through the API, and category rows read straight from the
database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from doable.categories.models import Category, task_category
from doable.extensions import db
from tests.support.factories import Account, ApiClient


def add_category(
    api: ApiClient, account: Account, name: str, color: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if color is not None:
        body["color"] = color
    response = api.post("/api/categories", account.token, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def category_rows(app: Flask) -> list[tuple[int, int, str, str | None]]:
    """Every category, straight from the database: (id, user_id, name, color)."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Category.id, Category.user_id, Category.name, Category.color).order_by(
                Category.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def links(app: Flask) -> set[tuple[int, int]]:
    """Every (task_id, category_id) link, straight from the database."""
    with app.app_context():
        rows = db.session.execute(sa.select(task_category.c.task_id, task_category.c.category_id))
        return {(task_id, category_id) for task_id, category_id in rows}


def listed(api: ApiClient, account: Account) -> list[dict[str, Any]]:
    response = api.get("/api/categories", account.token)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    assert set(response.get_json()) == {"categories", "total", "page", "per_page", "pages"}
    return response.get_json()["categories"]  # type: ignore[no-any-return]


def counts(api: ApiClient, account: Account) -> dict[str, int]:
    return {category["name"]: category["task_count"] for category in listed(api, account)}
