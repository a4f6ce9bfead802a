"""Text with NUL characters is refused everywhere (PostgreSQL cannot store it)."""

from __future__ import annotations

import pytest
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from doable.tasks.models import Task
from tests.factories import Account, ApiClient, assert_problem


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/tasks", {"title": "a\x00b"}, "title"),
        ("/api/tasks", {"title": "ok", "description": "\x00"}, "description"),
        ("/api/tasks", {"title": "ok", "categories": ["home", "x\x00"]}, "categories"),
        ("/api/categories", {"name": "x\x00y"}, "name"),
    ],
)
def test_post_text_with_nul_returns_400_naming_the_field_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account, path: str, body: dict, field: str
) -> None:
    response = api.post(path, alice.token, json=body)
    assert field in assert_problem(response, 400)["errors"]
    with app.app_context():
        assert db.session.query(Task).count() == 0


def test_register_password_with_nul_returns_400_and_creates_no_user(
    api: ApiClient, app: Flask
) -> None:
    response = api.register("nully", password="long\x00enough")
    assert "password" in assert_problem(response, 400)["errors"]
    with app.app_context():
        assert db.session.query(User).count() == 0


@pytest.mark.parametrize("query", ["q=a%00b", "category=a%00", "status=pending&q=%00"])
def test_list_query_with_nul_returns_400_naming_the_parameter(
    api: ApiClient, alice: Account, query: str
) -> None:
    response = api.get(f"/api/tasks?{query}", alice.token)
    errors = assert_problem(response, 400)["errors"]
    assert set(errors) <= {"q", "category"}
    assert errors
