"""Category names on tasks (docs/api.md, Categories): created for the task's owner,
reused ignoring case, replaced as a set, and a task's ETag follows its categories."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.support.categories import add_category, category_rows, counts, links, listed
from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.tasks import create, task_ids

# --- names on tasks ------------------------------------------------------------------


def test_create_task_with_new_category_names_creates_them_for_the_owner(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = create(api, alice, categories=["Study", "home"])

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
    task = create(api, alice, categories=["Study", "study", "STUDY"])

    assert task["categories"] == ["Study"]
    assert category_rows(app) == [(1, alice.id, "Study", None)]
    assert links(app) == {(task["id"], 1)}


@pytest.mark.parametrize("name", ["Study", "study", "STUDY"])
def test_create_task_with_existing_name_in_any_case_reuses_the_category(
    api: ApiClient, app: Flask, alice: Account, name: str
) -> None:
    existing = add_category(api, alice, "Study", "#123456")

    task = create(api, alice, categories=[name])

    assert task["categories"] == ["Study"]
    assert category_rows(app) == [(existing["id"], alice.id, "Study", "#123456")]
    assert links(app) == {(task["id"], existing["id"])}


def test_create_task_with_name_another_user_has_creates_the_callers_own(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    bobs = add_category(api, bob, "Study")

    task = create(api, alice, categories=["Study"])

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
    task = create(api, alice)

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
    task = create(api, alice, categories=["A", "B"])

    response = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"categories": ["b", "C"]})

    assert response.status_code == 200
    assert response.get_json()["categories"] == ["B", "C"]
    assert counts(api, alice) == {"A": 0, "B": 1, "C": 1}


def test_update_task_without_categories_keeps_them(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, categories=["Study"])

    response = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "renamed"})

    assert response.status_code == 200
    assert response.get_json()["categories"] == ["Study"]


def test_update_task_by_edit_sharee_creates_categories_for_the_owner(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    task = create(api, alice, categories=["Home"])
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
    task = create(api, alice, categories=["Study"])
    before = (category_rows(app), links(app))

    response = api.patch(
        f"/api/tasks/{task['id']}", alice.token, json={"categories": ["New", "n" * 51]}
    )

    assert_problem(response, 400)
    assert (category_rows(app), links(app)) == before


# --- representation of tasks follows their categories ------------------------------------


def test_rename_category_changes_the_etag_of_its_tasks(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, categories=["Study"])
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
    task = create(api, alice, categories=["Study"])
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
