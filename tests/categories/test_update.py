"""Renaming and recolouring categories with PUT and PATCH (docs/api.md, Categories)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from doable import signals
from doable.changes.log import Committed
from tests.support.categories import add_category, category_rows
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.tasks import create

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
    create(api, alice, categories=["Study"])

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


@pytest.fixture
def announced(app: Flask) -> Iterator[list[int]]:
    """Ids of the tasks announced as updated while the test runs."""
    seen: list[int] = []

    def record(sender: Any, changes: list[Committed], **_: Any) -> None:
        seen.extend(c.recorded.entity_id for c in changes if c.recorded.action == "updated")

    with signals.changes_committed.connected_to(record, sender=app):
        yield seen


def test_update_category_to_what_it_is_announces_nothing(
    api: ApiClient, alice: Account, announced: list[int]
) -> None:
    created = add_category(api, alice, "Study", "#123456")
    create(api, alice, title="Read", categories=["Study"])

    response = api.patch(
        f"/api/categories/{created['id']}", alice.token, json={"name": "Study", "color": "#123456"}
    )

    assert response.status_code == 200
    assert announced == []


def test_renaming_a_category_announces_its_tasks(
    api: ApiClient, alice: Account, announced: list[int]
) -> None:
    created = add_category(api, alice, "Study", "#123456")
    task = create(api, alice, title="Read", categories=["Study"])

    response = api.patch(f"/api/categories/{created['id']}", alice.token, json={"name": "study"})

    assert response.status_code == 200
    assert announced == [task["id"]]
