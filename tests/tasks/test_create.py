"""Creating tasks (docs/api.md, Conventions and Tasks): what is stored and returned,
and every way a create body is refused."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import TIMESTAMP, Account, ApiClient, assert_problem, stored_task
from tests.support.tasks import parse_timestamp, task_count


def without_categories(body: dict[str, Any]) -> dict[str, Any]:
    """Categories do not exist yet; leave them out of whole-body comparisons."""
    return {key: value for key, value in body.items() if key != "categories"}


# --- POST /api/tasks -----------------------------------------------------------------


def test_create_title_only_returns_201_with_defaults(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    response = api.post("/api/tasks", alice.token, json={"title": "Learn Flask"})

    after = datetime.now(UTC)
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert without_categories(body) == {
        "id": 1,
        "title": "Learn Flask",
        "description": "",
        "status": "pending",
        "priority": "medium",
        "due_date": None,
        "due_time": None,
        "timezone": None,
        "due_at": None,
        "recurrence": None,
        "reminders": [],
        "owner": {"id": alice.id, "username": "alice"},
        "access": "owner",
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert TIMESTAMP.match(body["created_at"])
    assert body["created_at"] == body["updated_at"]
    assert before <= parse_timestamp(body["created_at"]) <= after
    row = stored_task(app, 1)
    assert row is not None
    assert (row["user_id"], row["title"], row["description"]) == (alice.id, "Learn Flask", "")
    assert (row["status"], row["priority"], row["due_date"]) == ("pending", 2, None)


def test_create_returns_location_of_the_new_task(api: ApiClient, alice: Account) -> None:
    response = api.post("/api/tasks", alice.token, json={"title": "Learn Flask"})

    assert response.status_code == 201
    task_id = response.get_json()["id"]
    assert urlsplit(response.headers["Location"]).path == f"/api/tasks/{task_id}"
    fetched = api.get(response.headers["Location"], alice.token)
    assert fetched.status_code == 200
    assert fetched.get_json() == response.get_json()


def test_create_every_field_stores_and_returns_them(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    body = {
        "title": "Learn Flask",
        "description": "Complete Flask tutorial",
        "status": "in_progress",
        "priority": "high",
        "due_date": "2026-01-10",
    }

    response = api.post("/api/tasks", alice.token, json=body)

    assert response.status_code == 201
    created = response.get_json()
    assert {key: created[key] for key in body} == body
    row = stored_task(app, created["id"])
    assert row is not None
    assert (row["title"], row["description"], row["status"]) == (
        "Learn Flask",
        "Complete Flask tutorial",
        "in_progress",
    )
    assert (row["priority"], row["due_date"]) == (3, date(2026, 1, 10))


def test_create_longest_allowed_title_and_description_returns_201(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    body = {"title": "t" * 200, "description": "d" * 10_000}

    response = api.post("/api/tasks", alice.token, json=body)

    assert response.status_code == 201
    assert response.get_json()["title"] == "t" * 200
    row = stored_task(app, response.get_json()["id"])
    assert row is not None
    assert (len(row["title"]), len(row["description"])) == (200, 10_000)


INVALID_CREATES = {
    "title-missing": ({"description": "no title"}, "title"),
    "title-empty": ({"title": ""}, "title"),
    "title-blank": ({"title": "   "}, "title"),
    "title-201-chars": ({"title": "t" * 201}, "title"),
    "title-null": ({"title": None}, "title"),
    "title-number": ({"title": 5}, "title"),
    "title-list": ({"title": ["Learn Flask"]}, "title"),
    "description-10001-chars": ({"title": "ok", "description": "d" * 10_001}, "description"),
    "description-number": ({"title": "ok", "description": 5}, "description"),
    "status-unknown": ({"title": "ok", "status": "done"}, "status"),
    "status-wrong-case": ({"title": "ok", "status": "PENDING"}, "status"),
    "status-number": ({"title": "ok", "status": 1}, "status"),
    "priority-unknown": ({"title": "ok", "priority": "urgent"}, "priority"),
    "priority-number": ({"title": "ok", "priority": 3}, "priority"),
    "due-date-month-13": ({"title": "ok", "due_date": "2026-13-01"}, "due_date"),
    "due-date-feb-30": ({"title": "ok", "due_date": "2026-02-30"}, "due_date"),
    "due-date-word": ({"title": "ok", "due_date": "tomorrow"}, "due_date"),
    "due-date-number": ({"title": "ok", "due_date": 20260110}, "due_date"),
    "due-date-timestamp": ({"title": "ok", "due_date": "2026-01-10T10:00:00Z"}, "due_date"),
}


@pytest.mark.parametrize(
    ("body", "bad_field"), list(INVALID_CREATES.values()), ids=list(INVALID_CREATES)
)
def test_create_invalid_field_returns_400_naming_it(
    api: ApiClient, app: Flask, alice: Account, body: dict[str, Any], bad_field: str
) -> None:
    response = api.post("/api/tasks", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {bad_field}
    assert problem["errors"][bad_field]
    assert all(isinstance(message, str) for message in problem["errors"][bad_field])
    assert "Location" not in response.headers
    assert task_count(app) == 0


def test_create_several_bad_fields_names_every_one(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    body = {
        "title": " ",
        "description": "d" * 10_001,
        "status": "done",
        "priority": "urgent",
        "due_date": "tomorrow",
    }

    response = api.post("/api/tasks", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {"title", "description", "status", "priority", "due_date"}
    assert task_count(app) == 0


READ_ONLY_FIELDS = {
    "id": 99,
    "owner": {"id": 2, "username": "bob"},
    "user_id": 2,
    "access": "owner",
    "version": 7,
    "created_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z",
}


@pytest.mark.parametrize("name", list(READ_ONLY_FIELDS))
def test_create_read_only_field_returns_400_naming_it_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account, bob: Account, name: str
) -> None:
    body = {"title": "Learn Flask", name: READ_ONLY_FIELDS[name]}

    response = api.post("/api/tasks", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {name}
    assert task_count(app) == 0


def test_create_all_read_only_fields_names_every_one(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    response = api.post(
        "/api/tasks", alice.token, json={"title": "Learn Flask", **READ_ONLY_FIELDS}
    )

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == set(READ_ONLY_FIELDS)
    assert task_count(app) == 0


@pytest.mark.parametrize(
    "data", ['{"title": "Learn Flask"', "[]", '"Learn Flask"', "null"], ids=str
)
def test_create_malformed_or_non_object_json_returns_400(
    api: ApiClient, app: Flask, alice: Account, data: str
) -> None:
    response = api.post("/api/tasks", alice.token, data=data, content_type="application/json")

    assert_problem(response, 400)
    assert task_count(app) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("title=Learn+Flask", "application/x-www-form-urlencoded"),
        ('{"title": "Learn Flask"}', "text/plain"),
    ],
    ids=["form", "text"],
)
def test_create_wrong_content_type_returns_415_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account, data: str, content_type: str
) -> None:
    response = api.post("/api/tasks", alice.token, data=data, content_type=content_type)

    problem = assert_problem(response, 415)
    assert problem["title"] == "Unsupported Media Type"
    assert task_count(app) == 0


# --- other refusals -------------------------------------------------------------------


def test_create_body_over_the_json_limit_returns_413_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    body = {"title": "big", "description": "d" * (app.config["MAX_JSON_SIZE"] + 1)}

    response = api.post("/api/tasks", alice.token, json=body)

    assert_problem(response, 413)
    assert task_count(app) == 0


# --- hostile input: patterns, NUL characters, JSON bodies over the limit ---------


# Found by schemathesis (tests/test_fuzz.py).
@pytest.mark.parametrize("title", ["Plan", " x ", " ", "\t\n", "line\nbreak", "\u3000"])
def test_a_title_is_accepted_exactly_when_the_documented_pattern_matches(
    spec, api: ApiClient, alice, title
):
    field = spec["components"]["schemas"]["TaskCreate"]["properties"]["title"]
    documented = re.search(field["pattern"], title) is not None
    response = api.post("/api/tasks", alice.token, json={"title": title})
    assert (response.status_code == 201) == documented, response.json


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
