"""Shares go with their task and with either account."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.sharing import add_task, share_rows, user_ref
from tests.support.tasks import task_ids

# --- clean-up ------------------------------------------------------------------------


def test_delete_task_removes_its_shares(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    other = add_task(api, alice, title="other")
    share(api, alice, task["id"], bob, "edit")
    share(api, alice, task["id"], carol, "view")
    share(api, alice, other["id"], bob, "view")

    response = api.delete(f"/api/tasks/{task['id']}", alice.token)

    assert response.status_code == 204
    assert share_rows(app) == [(other["id"], bob.id, "view")]
    assert_problem(api.get(f"/api/tasks/{task['id']}", bob.token), 404)


def test_delete_sharee_account_removes_their_shares_and_keeps_the_task(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "edit")
    share(api, alice, task["id"], carol, "view")

    response = api.delete("/api/me", bob.token, json={"current_password": bob.password})

    assert response.status_code == 204
    assert share_rows(app) == [(task["id"], carol.id, "view")]
    assert task_ids(app) == {task["id"]}
    listing = api.get(f"/api/tasks/{task['id']}/share", alice.token).get_json()
    assert listing == {
        "shares": [{"task_id": task["id"], "user": user_ref(carol), "permission": "view"}]
    }


def test_delete_owner_account_removes_their_tasks_and_shares(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "edit")

    response = api.delete("/api/me", alice.token, json={"current_password": alice.password})

    assert response.status_code == 204
    assert share_rows(app) == []
    assert task_ids(app) == set()
    assert api.get("/api/tasks", bob.token).get_json()["total"] == 0
