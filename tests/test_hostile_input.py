"""Text with NUL characters is refused everywhere (PostgreSQL cannot store it); JSON
bodies over the size limit are refused alike, whether sized or streamed."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem


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


# --- JSON bodies over DOABLE_MAX_JSON_SIZE ----------------------------------------------

JSON_LIMIT = 1000


def post_json(client: Any, token: str, body: bytes, *, chunked: bool) -> Any:
    """POST ``body`` with a Content-Length, or streamed (Transfer-Encoding: chunked, no
    Content-Length, as a WSGI server hands a chunked body to the app)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if not chunked:
        return client.post("/api/tasks", headers=headers, data=body)
    headers["Transfer-Encoding"] = "chunked"
    return client.post(
        "/api/tasks",
        headers=headers,
        input_stream=io.BytesIO(body),
        environ_overrides={"wsgi.input_terminated": True},
    )


def padded_task(size: int) -> bytes:
    """A valid task body of exactly ``size`` bytes (trailing spaces are valid JSON)."""
    body = json.dumps({"title": "Padded"}).encode()
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_json_body_over_the_limit_is_413_whether_sized_or_streamed(
    make_app: Callable[..., Flask], chunked: bool
) -> None:
    app = make_app(MAX_JSON_SIZE=JSON_LIMIT)
    api = ApiClient(app.test_client())
    owner = api.account("big")
    body = json.dumps({"title": "x", "description": "d" * JSON_LIMIT}).encode()

    response = post_json(app.test_client(), owner.token, body, chunked=chunked)

    problem = assert_problem(response, 413)
    assert problem["title"] == "Request Entity Too Large"
    assert problem["detail"] == "The data value transmitted exceeds the capacity limit."
    assert "errors" not in problem
    with app.app_context():
        assert db.session.query(Task).count() == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
def test_json_body_of_exactly_the_limit_is_accepted_whether_sized_or_streamed(
    make_app: Callable[..., Flask], chunked: bool
) -> None:
    app = make_app(MAX_JSON_SIZE=JSON_LIMIT)
    api = ApiClient(app.test_client())
    owner = api.account("fits")

    response = post_json(app.test_client(), owner.token, padded_task(JSON_LIMIT), chunked=chunked)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["title"] == "Padded"
    with app.app_context():
        assert db.session.query(Task).count() == 1
