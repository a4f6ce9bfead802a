"""Task routes (docs/api.md, Conventions and Tasks): create, read, update, delete,
validation, visibility, authentication and the domain signals sent after each committed
write."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt as pyjwt
import pytest
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem, stored_task
from tests.support.signals import Event, SignalRecorder, recording

PROBLEM_JSON = "application/problem+json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
HUGE_ID = "99999999999999999999"


# --- helpers -------------------------------------------------------------------------


def task_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.query(Task).count())


def backdate(app: Flask, task_id: int, when: datetime = LONG_AGO) -> None:
    """Move a task's timestamps into the past, so an update must visibly change them."""
    with app.app_context():
        db.session.execute(
            sa.update(Task).where(Task.id == task_id).values(created_at=when, updated_at=when)
        )
        db.session.commit()


def parse_timestamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def create(api: ApiClient, account: Account, **fields: Any) -> dict[str, Any]:
    body = {"title": "Learn Flask", **fields}
    response = api.post("/api/tasks", account.token, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


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


# --- GET /api/tasks/<id> ---------------------------------------------------------------


def test_get_own_task_returns_200_with_its_representation(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, description="Complete Flask tutorial", due_date="2026-01-10")

    response = api.get(f"/api/tasks/{task['id']}", alice.token)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == task
    assert response.headers["ETag"]


def test_get_other_users_task_returns_404_like_a_task_that_never_existed(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    bobs = create(api, bob, title="Bob's secret")
    never = 999

    hidden = api.get(f"/api/tasks/{bobs['id']}", alice.token)
    missing = api.get(f"/api/tasks/{never}", alice.token)

    hidden_body = assert_problem(hidden, 404)
    missing_body = assert_problem(missing, 404)
    assert str(bobs["id"]) in hidden_body["detail"]
    assert "Bob's secret" not in hidden.get_data(as_text=True)
    assert hidden_body["detail"].replace(str(bobs["id"]), "<id>") == missing_body["detail"].replace(
        str(never), "<id>"
    )
    unique = {"detail", "request_id"}
    assert {k: v for k, v in hidden_body.items() if k not in unique} == {
        k: v for k, v in missing_body.items() if k not in unique
    }
    assert set(hidden_body) == set(missing_body)
    assert "ETag" not in hidden.headers
    assert "ETag" not in missing.headers


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_other_users_task_returns_404_and_leaves_it_unchanged(
    api: ApiClient, app: Flask, alice: Account, bob: Account, method: str
) -> None:
    bobs = create(api, bob, title="Bob's task")
    before = stored_task(app, bobs["id"])
    kwargs = {} if method == "delete" else {"json": {"title": "Alice was here"}}

    response = getattr(api, method)(f"/api/tasks/{bobs['id']}", alice.token, **kwargs)

    body = assert_problem(response, 404)
    assert str(bobs["id"]) in body["detail"]
    assert stored_task(app, bobs["id"]) == before


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
@pytest.mark.parametrize("task_id", ["2", "0", HUGE_ID], ids=["next", "zero", "huge"])
def test_task_route_absent_id_returns_404_not_500(
    api: ApiClient, app: Flask, alice: Account, method: str, task_id: str
) -> None:
    existing = create(api, alice)
    before = stored_task(app, existing["id"])
    kwargs = {"json": {"title": "changed"}} if method in ("put", "patch") else {}

    response = getattr(api, method)(f"/api/tasks/{task_id}", alice.token, **kwargs)

    body = assert_problem(response, 404)
    assert body["title"] == "Not Found"
    assert stored_task(app, existing["id"]) == before
    assert task_count(app) == 1


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


# --- DELETE /api/tasks/<id> ------------------------------------------------------------


def test_delete_own_task_returns_204_then_404(api: ApiClient, app: Flask, alice: Account) -> None:
    task = create(api, alice)

    response = api.delete(f"/api/tasks/{task['id']}", alice.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert stored_task(app, task["id"]) is None
    again = api.get(f"/api/tasks/{task['id']}", alice.token)
    assert_problem(again, 404)
    assert_problem(api.delete(f"/api/tasks/{task['id']}", alice.token), 404)


def test_delete_one_task_leaves_the_others(api: ApiClient, app: Flask, alice: Account) -> None:
    first = create(api, alice, title="first")
    second = create(api, alice, title="second")

    response = api.delete(f"/api/tasks/{first['id']}", alice.token)

    assert response.status_code == 204
    assert stored_task(app, first["id"]) is None
    row = stored_task(app, second["id"])
    assert row is not None
    assert row["title"] == "second"


@pytest.mark.parametrize("deleted", [[2], [1, 2]], ids=["newest", "all"])
def test_create_after_delete_never_reuses_an_id(
    api: ApiClient, app: Flask, alice: Account, deleted: list[int]
) -> None:
    assert [create(api, alice)["id"] for _ in range(2)] == [1, 2]
    for task_id in deleted:
        assert api.delete(f"/api/tasks/{task_id}", alice.token).status_code == 204

    task = create(api, alice, title="third")

    assert task["id"] == 3
    assert stored_task(app, 3) is not None
    assert task_count(app) == 3 - len(deleted)


# --- authentication -------------------------------------------------------------------

ROUTES = [
    ("get", "/api/tasks", None),
    ("post", "/api/tasks", {"title": "sneaky"}),
    ("get", "/api/tasks/1", None),
    ("put", "/api/tasks/1", {"title": "sneaky"}),
    ("patch", "/api/tasks/1", {"title": "sneaky"}),
    ("delete", "/api/tasks/1", None),
]


def forged_token(user_id: int) -> str:
    """A well-formed access token for ``user_id``, signed with someone else's key."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "sid": "forged",
        "type": "access",
        "fresh": False,
        "jti": "forged",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
    }
    return pyjwt.encode(claims, "not-the-server-secret-0123456789-abcdefghij", algorithm="HS256")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m}-{p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("token", ["missing", "garbage", "forged"])
def test_task_route_without_valid_token_returns_401_and_changes_nothing(
    api: ApiClient,
    app: Flask,
    alice: Account,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    token: str,
) -> None:
    task = create(api, alice)
    before = stored_task(app, task["id"])
    headers = {
        "missing": {},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "forged": {"Authorization": f"Bearer {forged_token(alice.id)}"},
    }[token]
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body

    response = getattr(api.client, method)(path, **kwargs)

    problem = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "tasks" not in problem
    assert "Learn Flask" not in response.get_data(as_text=True)
    assert stored_task(app, task["id"]) == before
    assert task_count(app) == 1


# --- domain signals --------------------------------------------------------------------


def committed_title(connection: sa.Connection, task_id: int) -> str | None:
    return connection.execute(sa.select(Task.title).where(Task.id == task_id)).scalar_one_or_none()


@pytest.fixture
def recorder() -> Iterator[SignalRecorder]:
    with recording(committed_title, "created", "updated", "deleted") as recorder:
        yield recorder


def test_create_sends_task_created_once_after_commit(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder
) -> None:
    task = create(api, alice, title="Signal me")

    assert recorder.events == [Event("created", app, task["id"], [alice.id], "Signal me")]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_sends_task_updated_once_after_commit(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder, method: str
) -> None:
    task = create(api, alice, title="old title")
    recorder.events.clear()

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, json={"title": "new title"}
    )

    assert response.status_code == 200
    assert recorder.events == [Event("updated", app, task["id"], [alice.id], "new title")]


def test_delete_sends_task_deleted_once_after_commit(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder
) -> None:
    task = create(api, alice)
    recorder.events.clear()

    response = api.delete(f"/api/tasks/{task['id']}", alice.token)

    assert response.status_code == 204
    assert recorder.events == [Event("deleted", app, task["id"], [alice.id], None)]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_refused_by_stale_if_match_sends_no_signal(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder, method: str
) -> None:
    task = create(api, alice)
    recorder.events.clear()
    kwargs = {} if method == "delete" else {"json": {"title": "lost update"}}

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, headers={"If-Match": '"stale"'}, **kwargs
    )

    assert_problem(response, 412)
    assert recorder.events == []


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_refused_by_validation_sends_no_signal(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder, method: str
) -> None:
    task = create(api, alice)
    recorder.events.clear()

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, json={"title": "", "status": "done"}
    )

    assert_problem(response, 400)
    assert recorder.events == []


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_to_other_users_task_sends_no_signal(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    recorder: SignalRecorder,
    method: str,
) -> None:
    bobs = create(api, bob)
    recorder.events.clear()
    kwargs = {} if method == "delete" else {"json": {"title": "Alice was here"}}

    response = getattr(api, method)(f"/api/tasks/{bobs['id']}", alice.token, **kwargs)

    assert_problem(response, 404)
    assert recorder.events == []


# --- other refusals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/tasks/1"), ("put", "/api/tasks"), ("delete", "/api/tasks")],
    ids=["post-one", "put-list", "delete-list"],
)
def test_task_route_wrong_method_returns_405_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, method: str, path: str
) -> None:
    task = create(api, alice)
    before = stored_task(app, task["id"])

    response = getattr(api, method)(path, alice.token, json={"title": "x"})

    assert_problem(response, 405)
    assert "Allow" in response.headers
    assert stored_task(app, task["id"]) == before
    assert task_count(app) == 1


def test_create_body_over_the_json_limit_returns_413_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    body = {"title": "big", "description": "d" * (app.config["MAX_JSON_SIZE"] + 1)}

    response = api.post("/api/tasks", alice.token, json=body)

    assert_problem(response, 413)
    assert task_count(app) == 0
