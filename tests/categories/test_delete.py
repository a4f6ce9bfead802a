"""Deleting categories (docs/api.md, Categories): the tasks stay, without it."""

from __future__ import annotations

from flask import Flask

from tests.support.categories import add_category, category_rows, counts, links, listed
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.tasks import create, task_ids

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
    both = create(api, alice, title="both", categories=["Study", "Home"])
    only = create(api, alice, title="only", categories=["Study"])
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

    task = create(api, alice, categories=["Study"])

    assert task["categories"] == ["Study"]
    rows = category_rows(app)
    assert len(rows) == 1
    assert rows[0][0] != old["id"]
