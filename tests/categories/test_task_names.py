"""Categories (docs/api.md, Categories): CRUD, per-user case-insensitive names, task
counts, names on tasks created for the task's owner, the ``category`` list filter, and a
constant number of SQL statements whatever the number of categories."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.auth.models import User
from doable.categories.models import Category, task_category
from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem, share

PROBLEM_JSON = "application/problem+json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
CATEGORY_KEYS = {"id", "name", "color", "task_count", "created_at", "updated_at"}
HUGE_ID = "99999999999999999999"

# --- helpers -------------------------------------------------------------------------


def add_category(
    api: ApiClient, account: Account, name: str, color: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if color is not None:
        body["color"] = color
    response = api.post("/api/categories", account.token, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def add_task(api: ApiClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/tasks", account.token, json={"title": "Learn Flask", **fields})
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


def task_ids(app: Flask) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Task.id)))


def listed(api: ApiClient, account: Account) -> list[dict[str, Any]]:
    response = api.get("/api/categories", account.token)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    assert set(response.get_json()) == {"categories", "total", "page", "per_page", "pages"}
    return response.get_json()["categories"]  # type: ignore[no-any-return]


def counts(api: ApiClient, account: Account) -> dict[str, int]:
    return {category["name"]: category["task_count"] for category in listed(api, account)}


def list_tasks(api: ApiClient, account: Account, **params: Any) -> Any:
    return api.get(f"/api/tasks?{urlencode({'per_page': 100, **params})}", account.token)


def listed_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["total"] == len(body["tasks"])
    return [task["id"] for task in body["tasks"]]


# --- POST /api/categories ------------------------------------------------------------


def test_create_category_returns_201_with_location_and_stores_it(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": "Study", "color": "#1a2B3c"})

    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {
        "id": 1,
        "name": "Study",
        "color": "#1a2B3c",
        "task_count": 0,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert TIMESTAMP.match(body["created_at"])
    assert TIMESTAMP.match(body["updated_at"])
    assert urlsplit(response.headers["Location"]).path == "/api/categories/1"
    assert category_rows(app) == [(1, alice.id, "Study", "#1a2B3c")]


def test_create_category_location_serves_the_same_representation(
    api: ApiClient, alice: Account
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": "Study"})

    fetched = api.get(response.headers["Location"], alice.token)

    assert fetched.status_code == 200
    assert fetched.get_json() == response.get_json()


def test_create_category_without_color_stores_null(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": "Home"})

    assert response.status_code == 201
    assert response.get_json()["color"] is None
    assert category_rows(app) == [(1, alice.id, "Home", None)]


def test_create_category_explicit_null_color_returns_201(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": "Home", "color": None})

    assert response.status_code == 201
    assert response.get_json()["color"] is None
    assert category_rows(app) == [(1, alice.id, "Home", None)]


@pytest.mark.parametrize("name", ["x", "n" * 50], ids=["1-char", "50-chars"])
def test_create_category_name_at_length_limit_returns_201(
    api: ApiClient, app: Flask, alice: Account, name: str
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": name})

    assert response.status_code == 201
    assert response.get_json()["name"] == name
    assert category_rows(app) == [(1, alice.id, name, None)]


INVALID_CATEGORIES = {
    "name-missing": ({"color": "#123456"}, "name"),
    "name-empty": ({"name": ""}, "name"),
    "name-blank": ({"name": "   "}, "name"),
    "name-51-chars": ({"name": "n" * 51}, "name"),
    "name-null": ({"name": None}, "name"),
    "name-number": ({"name": 7}, "name"),
    "color-word": ({"name": "ok", "color": "red"}, "color"),
    "color-no-hash": ({"name": "ok", "color": "123456"}, "color"),
    "color-5-digits": ({"name": "ok", "color": "#12345"}, "color"),
    "color-7-digits": ({"name": "ok", "color": "#1234567"}, "color"),
    "color-not-hex": ({"name": "ok", "color": "#12345G"}, "color"),
    "color-short-form": ({"name": "ok", "color": "#abc"}, "color"),
    "color-trailing-newline": ({"name": "ok", "color": "#123456\n"}, "color"),
    "color-number": ({"name": "ok", "color": 123456}, "color"),
    "unknown-field": ({"name": "ok", "icon": "star"}, "icon"),
    "read-only-id": ({"name": "ok", "id": 5}, "id"),
    "read-only-task-count": ({"name": "ok", "task_count": 3}, "task_count"),
}


@pytest.mark.parametrize(
    ("body", "field"), INVALID_CATEGORIES.values(), ids=list(INVALID_CATEGORIES)
)
def test_create_category_invalid_body_returns_400_naming_field_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/categories", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {field}
    assert problem["errors"][field]
    assert category_rows(app) == []


@pytest.mark.parametrize("name", ["Study", "study", "STUDY", "sTuDy"])
def test_create_category_existing_name_ignoring_case_returns_409(
    api: ApiClient, app: Flask, alice: Account, name: str
) -> None:
    add_category(api, alice, "Study", "#000000")

    response = api.post("/api/categories", alice.token, json={"name": name})

    problem = assert_problem(response, 409)
    assert "categories" not in problem
    assert category_rows(app) == [(1, alice.id, "Study", "#000000")]


def test_create_category_name_another_user_has_returns_201(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    add_category(api, bob, "Study")

    response = api.post("/api/categories", alice.token, json={"name": "study"})

    assert response.status_code == 201
    assert category_rows(app) == [(1, bob.id, "Study", None), (2, alice.id, "study", None)]


def test_category_routes_without_token_return_401(api: ApiClient, app: Flask) -> None:
    response = api.post("/api/categories", json={"name": "Study"})

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert category_rows(app) == []


# --- GET /api/categories -------------------------------------------------------------


def test_list_categories_sorted_by_name_ignoring_case(api: ApiClient, alice: Account) -> None:
    for name in ["banana", "Cherry", "apple", "Apricot", "BLUEBERRY"]:
        add_category(api, alice, name)

    categories = listed(api, alice)

    assert [c["name"] for c in categories] == ["apple", "Apricot", "banana", "BLUEBERRY", "Cherry"]
    assert all(set(c) == CATEGORY_KEYS for c in categories)


def test_list_categories_shows_only_the_callers(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    mine = add_category(api, alice, "Mine", "#ffffff")
    add_category(api, bob, "Theirs")

    categories = listed(api, alice)

    assert categories == [mine]


def test_list_categories_new_user_returns_empty_list(api: ApiClient, alice: Account) -> None:
    assert listed(api, alice) == []


def test_list_categories_task_count_counts_linked_tasks(api: ApiClient, alice: Account) -> None:
    add_category(api, alice, "Empty")
    add_task(api, alice, categories=["Study", "Home"])
    add_task(api, alice, categories=["Study"])
    add_task(api, alice)

    assert counts(api, alice) == {"Empty": 0, "Home": 1, "Study": 2}


def test_list_categories_task_count_drops_when_a_task_is_unlinked(
    api: ApiClient, alice: Account
) -> None:
    first = add_task(api, alice, categories=["Study", "Home"])
    add_task(api, alice, categories=["Study"])

    response = api.patch(f"/api/tasks/{first['id']}", alice.token, json={"categories": ["Home"]})

    assert response.status_code == 200
    assert response.get_json()["categories"] == ["Home"]
    assert counts(api, alice) == {"Home": 1, "Study": 1}


def test_list_categories_task_count_drops_when_a_task_is_deleted(
    api: ApiClient, alice: Account
) -> None:
    first = add_task(api, alice, categories=["Study"])
    add_task(api, alice, categories=["Study"])

    response = api.delete(f"/api/tasks/{first['id']}", alice.token)

    assert response.status_code == 204
    assert counts(api, alice) == {"Study": 1}


def test_get_category_returns_it_with_task_count(api: ApiClient, alice: Account) -> None:
    created = add_category(api, alice, "Study", "#abcdef")
    add_task(api, alice, categories=["study"])

    response = api.get(f"/api/categories/{created['id']}", alice.token)

    assert response.status_code == 200
    assert response.get_json() == {**created, "task_count": 1}


# --- PUT / PATCH /api/categories/<id> ------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_category_name_renames_and_keeps_color(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    created = add_category(api, alice, "Study", "#123456")

    response = getattr(api, method)(
        f"/api/categories/{created['id']}", alice.token, json={"name": "Learning"}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["name"], body["color"]) == (created["id"], "Learning", "#123456")
    assert body["created_at"] == created["created_at"]
    assert category_rows(app) == [(created["id"], alice.id, "Learning", "#123456")]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_category_color_recolours_and_keeps_name(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    created = add_category(api, alice, "Study", "#123456")

    response = getattr(api, method)(
        f"/api/categories/{created['id']}", alice.token, json={"color": "#ABCDEF"}
    )

    assert response.status_code == 200
    assert (response.get_json()["name"], response.get_json()["color"]) == ("Study", "#ABCDEF")
    assert category_rows(app) == [(created["id"], alice.id, "Study", "#ABCDEF")]


def test_update_category_color_null_clears_it(api: ApiClient, app: Flask, alice: Account) -> None:
    created = add_category(api, alice, "Study", "#123456")

    response = api.patch(f"/api/categories/{created['id']}", alice.token, json={"color": None})

    assert response.status_code == 200
    assert response.get_json()["color"] is None
    assert category_rows(app) == [(created["id"], alice.id, "Study", None)]


def test_update_category_keeps_task_count(api: ApiClient, alice: Account) -> None:
    created = add_category(api, alice, "Study")
    add_task(api, alice, categories=["Study"])

    response = api.patch(f"/api/categories/{created['id']}", alice.token, json={"name": "Learn"})

    assert response.status_code == 200
    assert response.get_json()["task_count"] == 1


@pytest.mark.parametrize("name", ["Home", "home", "HOME"])
def test_update_category_to_another_name_ignoring_case_returns_409_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, name: str
) -> None:
    add_category(api, alice, "Home")
    study = add_category(api, alice, "Study")
    before = category_rows(app)

    response = api.put(f"/api/categories/{study['id']}", alice.token, json={"name": name})

    assert_problem(response, 409)
    assert category_rows(app) == before


@pytest.mark.parametrize("name", ["study", "STUDY", "Study"])
def test_update_category_to_own_name_in_other_case_returns_200(
    api: ApiClient, app: Flask, alice: Account, name: str
) -> None:
    created = add_category(api, alice, "Study")
    add_category(api, alice, "Home")

    response = api.put(f"/api/categories/{created['id']}", alice.token, json={"name": name})

    assert response.status_code == 200
    assert response.get_json()["name"] == name
    assert category_rows(app)[0] == (created["id"], alice.id, name, None)


def test_update_category_to_name_another_user_has_returns_200(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    add_category(api, bob, "Home")
    created = add_category(api, alice, "Study")

    response = api.put(f"/api/categories/{created['id']}", alice.token, json={"name": "home"})

    assert response.status_code == 200
    assert category_rows(app)[1] == (created["id"], alice.id, "home", None)


INVALID_UPDATES = {
    "empty-body": ({}, None),
    "name-empty": ({"name": ""}, "name"),
    "name-blank": ({"name": "  "}, "name"),
    "name-51-chars": ({"name": "n" * 51}, "name"),
    "name-null": ({"name": None}, "name"),
    "color-word": ({"color": "blue"}, "color"),
    "color-not-hex": ({"color": "#zzzzzz"}, "color"),
    "unknown-field": ({"icon": "star"}, "icon"),
    "read-only-id": ({"id": 9}, "id"),
}


@pytest.mark.parametrize(("body", "field"), INVALID_UPDATES.values(), ids=list(INVALID_UPDATES))
@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_category_invalid_body_returns_400_and_changes_nothing(
    api: ApiClient,
    app: Flask,
    alice: Account,
    method: str,
    body: dict[str, Any],
    field: str | None,
) -> None:
    created = add_category(api, alice, "Study", "#123456")

    response = getattr(api, method)(f"/api/categories/{created['id']}", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert problem["errors"]
    if field is not None:
        assert set(problem["errors"]) == {field}
    assert category_rows(app) == [(created["id"], alice.id, "Study", "#123456")]


# --- another user's category ---------------------------------------------------------

OTHER_USERS_ROUTES = {
    "get": ("get", None),
    "put": ("put", {"name": "Hacked"}),
    "patch": ("patch", {"color": "#000000"}),
    "delete": ("delete", None),
}


@pytest.mark.parametrize(
    ("method", "body"), OTHER_USERS_ROUTES.values(), ids=list(OTHER_USERS_ROUTES)
)
def test_category_route_other_users_category_returns_404_like_a_missing_one(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    method: str,
    body: dict[str, Any] | None,
) -> None:
    bobs = add_category(api, bob, "Secret plans", "#111111")
    add_task(api, bob, categories=["Secret plans"])
    before = (category_rows(app), links(app))
    kwargs = {} if body is None else {"json": body}
    never = 999

    hidden = getattr(api, method)(f"/api/categories/{bobs['id']}", alice.token, **kwargs)
    missing = getattr(api, method)(f"/api/categories/{never}", alice.token, **kwargs)

    hidden_body = assert_problem(hidden, 404)
    missing_body = assert_problem(missing, 404)
    assert "Secret plans" not in hidden.get_data(as_text=True)
    assert hidden_body["detail"].replace(str(bobs["id"]), "<id>") == missing_body["detail"].replace(
        str(never), "<id>"
    )
    assert set(hidden_body) == set(missing_body)
    assert (category_rows(app), links(app)) == before


@pytest.mark.parametrize("category_id", ["0", HUGE_ID], ids=["zero", "huge"])
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_category_route_absent_id_returns_404_not_500(
    api: ApiClient, alice: Account, method: str, category_id: str
) -> None:
    kwargs = {} if method in ("get", "delete") else {"json": {"name": "x"}}

    response = getattr(api, method)(f"/api/categories/{category_id}", alice.token, **kwargs)

    assert_problem(response, 404)


# --- DELETE /api/categories/<id> -----------------------------------------------------


def test_delete_category_returns_204_then_404(api: ApiClient, app: Flask, alice: Account) -> None:
    created = add_category(api, alice, "Study")

    response = api.delete(f"/api/categories/{created['id']}", alice.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert category_rows(app) == []
    assert_problem(api.get(f"/api/categories/{created['id']}", alice.token), 404)


def test_delete_category_keeps_its_tasks_without_it(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    both = add_task(api, alice, title="both", categories=["Study", "Home"])
    only = add_task(api, alice, title="only", categories=["Study"])
    study = next(c for c in listed(api, alice) if c["name"] == "Study")
    home = next(c for c in listed(api, alice) if c["name"] == "Home")

    response = api.delete(f"/api/categories/{study['id']}", alice.token)

    assert response.status_code == 204
    assert task_ids(app) == {both["id"], only["id"]}
    assert api.get(f"/api/tasks/{both['id']}", alice.token).get_json()["categories"] == ["Home"]
    assert api.get(f"/api/tasks/{only['id']}", alice.token).get_json()["categories"] == []
    assert links(app) == {(both["id"], home["id"])}
    assert counts(api, alice) == {"Home": 1}


def test_delete_category_then_same_name_on_task_creates_a_new_one(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    old = add_category(api, alice, "Study")
    assert api.delete(f"/api/categories/{old['id']}", alice.token).status_code == 204

    task = add_task(api, alice, categories=["Study"])

    assert task["categories"] == ["Study"]
    rows = category_rows(app)
    assert len(rows) == 1
    assert rows[0][0] != old["id"]


# --- names on tasks ------------------------------------------------------------------


def test_create_task_with_new_category_names_creates_them_for_the_owner(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = add_task(api, alice, categories=["Study", "home"])

    assert task["categories"] == ["home", "Study"]
    rows = category_rows(app)
    assert sorted((user_id, name) for _, user_id, name, _ in rows) == [
        (alice.id, "Study"),
        (alice.id, "home"),
    ]
    assert links(app) == {(task["id"], category_id) for category_id, *_ in rows}


def test_create_task_with_names_repeated_ignoring_case_creates_one_category(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = add_task(api, alice, categories=["Study", "study", "STUDY"])

    assert task["categories"] == ["Study"]
    assert category_rows(app) == [(1, alice.id, "Study", None)]
    assert links(app) == {(task["id"], 1)}


@pytest.mark.parametrize("name", ["Study", "study", "STUDY"])
def test_create_task_with_existing_name_in_any_case_reuses_the_category(
    api: ApiClient, app: Flask, alice: Account, name: str
) -> None:
    existing = add_category(api, alice, "Study", "#123456")

    task = add_task(api, alice, categories=[name])

    assert task["categories"] == ["Study"]
    assert category_rows(app) == [(existing["id"], alice.id, "Study", "#123456")]
    assert links(app) == {(task["id"], existing["id"])}


def test_create_task_with_name_another_user_has_creates_the_callers_own(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    bobs = add_category(api, bob, "Study")

    task = add_task(api, alice, categories=["Study"])

    rows = category_rows(app)
    assert [(user_id, name) for _, user_id, name, _ in rows] == [
        (bob.id, "Study"),
        (alice.id, "Study"),
    ]
    assert links(app) == {(task["id"], rows[1][0])}
    assert counts(api, bob) == {"Study": 0}
    assert bobs["id"] == rows[0][0]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_task_categories_creates_missing_and_reuses_existing(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    home = add_category(api, alice, "Home")
    task = add_task(api, alice)

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, json={"categories": ["HOME", "Work", "work"]}
    )

    assert response.status_code == 200
    assert response.get_json()["categories"] == ["Home", "Work"]
    rows = category_rows(app)
    assert [(user_id, name) for _, user_id, name, _ in rows] == [
        (alice.id, "Home"),
        (alice.id, "Work"),
    ]
    assert rows[0][0] == home["id"]
    assert links(app) == {(task["id"], rows[0][0]), (task["id"], rows[1][0])}


def test_update_task_categories_replaces_the_whole_set(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = add_task(api, alice, categories=["A", "B"])

    response = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"categories": ["b", "C"]})

    assert response.status_code == 200
    assert response.get_json()["categories"] == ["B", "C"]
    assert counts(api, alice) == {"A": 0, "B": 1, "C": 1}


def test_update_task_without_categories_keeps_them(api: ApiClient, alice: Account) -> None:
    task = add_task(api, alice, categories=["Study"])

    response = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "renamed"})

    assert response.status_code == 200
    assert response.get_json()["categories"] == ["Study"]


def test_update_task_by_edit_sharee_creates_categories_for_the_owner(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    task = add_task(api, alice, categories=["Home"])
    share(api, alice, task["id"], bob, "edit")

    response = api.patch(
        f"/api/tasks/{task['id']}", bob.token, json={"categories": ["home", "Urgent"]}
    )

    assert response.status_code == 200
    assert response.get_json()["categories"] == ["Home", "Urgent"]
    assert response.get_json()["access"] == "edit"
    assert {(user_id, name) for _, user_id, name, _ in category_rows(app)} == {
        (alice.id, "Home"),
        (alice.id, "Urgent"),
    }
    assert counts(api, alice) == {"Home": 1, "Urgent": 1}
    assert listed(api, bob) == []


INVALID_TASK_CATEGORIES = {
    "empty-name": [""],
    "blank-name": ["   "],
    "51-char-name": ["n" * 51],
    "not-a-list": "Study",
    "number-in-list": ["Study", 5],
    "null-in-list": [None],
    "21-names": [f"c{n}" for n in range(21)],
}


@pytest.mark.parametrize(
    "categories", INVALID_TASK_CATEGORIES.values(), ids=list(INVALID_TASK_CATEGORIES)
)
def test_create_task_invalid_categories_returns_400_and_creates_nothing(
    api: ApiClient, app: Flask, alice: Account, categories: Any
) -> None:
    response = api.post("/api/tasks", alice.token, json={"title": "t", "categories": categories})

    problem = assert_problem(response, 400)
    assert problem["errors"]
    assert all(re.fullmatch(r"categories(\.\d+)?", key) for key in problem["errors"])
    assert category_rows(app) == []
    assert task_ids(app) == set()


def test_update_task_invalid_categories_returns_400_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = add_task(api, alice, categories=["Study"])
    before = (category_rows(app), links(app))

    response = api.patch(
        f"/api/tasks/{task['id']}", alice.token, json={"categories": ["New", "n" * 51]}
    )

    assert_problem(response, 400)
    assert (category_rows(app), links(app)) == before


# --- ?category= on the task list -----------------------------------------------------


@pytest.fixture
def tagged(api: ApiClient, alice: Account, bob: Account) -> dict[str, int]:
    """alice's tasks by title; bob's have the same category names and must not show."""
    add_task(api, bob, title="bob study", categories=["Study"])
    specs = {
        "read flask book": ({"status": "pending"}, ["Study"]),
        "write flask notes": ({"status": "completed"}, ["study", "Home"]),
        "watch django talk": ({"status": "pending"}, ["Study"]),
        "clean flask": ({"status": "pending"}, ["Home"]),
        "nothing": ({"status": "pending"}, []),
    }
    return {
        title: add_task(api, alice, title=title, categories=names, **fields)["id"]
        for title, (fields, names) in specs.items()
    }


@pytest.mark.parametrize("name", ["Study", "study", "STUDY"])
def test_list_tasks_category_filter_ignores_case(
    api: ApiClient, alice: Account, tagged: dict[str, int], name: str
) -> None:
    response = list_tasks(api, alice, category=name, sort="title")

    assert listed_ids(response) == [
        tagged["read flask book"],
        tagged["watch django talk"],
        tagged["write flask notes"],
    ]


def test_list_tasks_category_filter_combines_with_status(
    api: ApiClient, alice: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, alice, category="study", status="pending", sort="title")

    assert listed_ids(response) == [tagged["read flask book"], tagged["watch django talk"]]


def test_list_tasks_category_filter_combines_with_q(
    api: ApiClient, alice: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, alice, category="STUDY", q="flask", sort="title")

    assert listed_ids(response) == [tagged["read flask book"], tagged["write flask notes"]]


def test_list_tasks_category_filter_combines_with_status_and_q(
    api: ApiClient, alice: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, alice, category="home", q="flask", status="pending")

    assert listed_ids(response) == [tagged["clean flask"]]


def test_list_tasks_category_filter_unknown_name_returns_empty_page(
    api: ApiClient, alice: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, alice, category="Garden")

    assert listed_ids(response) == []
    assert response.get_json()["total"] == 0


def test_list_tasks_category_filter_another_users_name_returns_only_callers_tasks(
    api: ApiClient, bob: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, bob, category="study")

    titles = [task["title"] for task in response.get_json()["tasks"]]
    assert titles == ["bob study"]


@pytest.mark.parametrize(
    "query",
    ["category=", "category=%20%20", f"category={'n' * 51}", "category=a&category=b"],
    ids=["empty", "blank", "51-chars", "repeated"],
)
def test_list_tasks_bad_category_returns_400_naming_it(
    api: ApiClient, alice: Account, query: str
) -> None:
    response = api.get(f"/api/tasks?{query}", alice.token)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {"category"}


# --- representation of tasks follows their categories ------------------------------------


def test_rename_category_changes_the_etag_of_its_tasks(api: ApiClient, alice: Account) -> None:
    task = add_task(api, alice, categories=["Study"])
    study = listed(api, alice)[0]
    old = api.get(f"/api/tasks/{task['id']}", alice.token)
    assert old.status_code == 200

    renamed = api.patch(f"/api/categories/{study['id']}", alice.token, json={"name": "Learning"})
    fetched = api.get(
        f"/api/tasks/{task['id']}", alice.token, headers={"If-None-Match": old.headers["ETag"]}
    )

    assert renamed.status_code == 200
    assert fetched.status_code == 200
    assert fetched.get_json()["categories"] == ["Learning"]
    assert fetched.headers["ETag"] != old.headers["ETag"]


def test_delete_category_changes_the_etag_of_its_tasks(api: ApiClient, alice: Account) -> None:
    task = add_task(api, alice, categories=["Study"])
    study = listed(api, alice)[0]
    old = api.get(f"/api/tasks/{task['id']}", alice.token)

    deleted = api.delete(f"/api/categories/{study['id']}", alice.token)
    fetched = api.get(
        f"/api/tasks/{task['id']}", alice.token, headers={"If-None-Match": old.headers["ETag"]}
    )

    assert deleted.status_code == 204
    assert fetched.status_code == 200
    assert fetched.get_json()["categories"] == []
    assert fetched.headers["ETag"] != old.headers["ETag"]


# --- statements per request ----------------------------------------------------------


def insert_categories(app: Flask, user_id: int, count: int, tasks_each: int) -> None:
    """``count`` categories for the user, each on ``tasks_each`` tasks of theirs."""
    with app.app_context():
        owner = db.session.get(User, user_id)
        tasks = [Task(user_id=user_id, owner=owner, title=f"t{n}") for n in range(tasks_each)]
        db.session.add_all(tasks)
        for n in range(count):
            db.session.add(Category(user_id=user_id, name=f"cat{n:03d}"))
        db.session.flush()
        categories = db.session.scalars(sa.select(Category).where(Category.user_id == user_id))
        for category in categories:
            db.session.execute(
                task_category.insert(),
                [{"task_id": task.id, "category_id": category.id} for task in tasks],
            )
        db.session.commit()


def test_list_categories_statement_count_does_not_grow_with_categories(
    api: ApiClient, app: Flask, statements: list[str]
) -> None:
    few = api.account("few")
    many = api.account("many")
    insert_categories(app, few.id, 2, 3)
    insert_categories(app, many.id, 30, 3)
    seen = {}

    for account, expected in [(few, 2), (many, 30)]:
        assert api.get("/api/categories", account.token).status_code == 200  # warm up
        statements.clear()
        categories = listed(api, account)
        seen[expected] = len(statements)
        assert len(categories) == expected
        assert {c["task_count"] for c in categories} == {3}

    assert seen[2] > 0, "the listener saw no statements"
    assert seen[2] == seen[30], seen
