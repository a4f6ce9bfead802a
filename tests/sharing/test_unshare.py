"""Removing a share (docs/api.md, Sharing): by the owner, or by the sharee leaving."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.sharing import share_rows
from tests.support.tasks import task_ids

# --- DELETE /api/tasks/<id>/share/<user_id> ------------------------------------------


def test_unshare_returns_204_and_removes_only_that_share(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "edit")
    share(api, alice, task["id"], carol, "view")

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert share_rows(app) == [(task["id"], carol.id, "view")]
    assert task_ids(app) == {task["id"]}


def test_unshare_hides_the_task_from_the_former_sharee(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "edit")

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token)

    assert response.status_code == 204
    assert_problem(api.get(f"/api/tasks/{task['id']}", bob.token), 404)
    assert api.get("/api/tasks", bob.token).get_json()["total"] == 0


@pytest.mark.parametrize("target", ["never-shared", "unknown-user", "huge-id"])
def test_unshare_user_the_task_is_not_shared_with_returns_404_and_changes_nothing(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    target: str,
) -> None:
    share(api, alice, task["id"], bob, "view")
    user_id = {"never-shared": carol.id, "unknown-user": 999, "huge-id": 2**40}[target]

    response = api.delete(f"/api/tasks/{task['id']}/share/{user_id}", alice.token)

    assert_problem(response, 404)
    assert share_rows(app) == [(task["id"], bob.id, "view")]


def test_unshare_twice_returns_404_the_second_time(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")
    assert api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token).status_code == 204

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token)

    assert_problem(response, 404)
    assert share_rows(app) == []


def test_unshare_the_owner_returns_404(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")

    response = api.delete(f"/api/tasks/{task['id']}/share/{alice.id}", alice.token)

    assert_problem(response, 404)
    assert share_rows(app) == [(task["id"], bob.id, "view")]


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_unshare_by_sharee_returns_403_and_changes_nothing(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    permission: str,
) -> None:
    share(api, alice, task["id"], bob, permission)
    share(api, alice, task["id"], carol, "view")
    before = share_rows(app)

    response = api.delete(f"/api/tasks/{task['id']}/share/{carol.id}", bob.token)

    assert_problem(response, 403)
    assert share_rows(app) == before


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_unshare_own_share_by_sharee_returns_204_and_the_owner_keeps_the_task(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    permission: str,
) -> None:
    share(api, alice, task["id"], bob, permission)
    share(api, alice, task["id"], carol, "view")

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", bob.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert share_rows(app) == [(task["id"], carol.id, "view")]
    assert task_ids(app) == {task["id"]}
    assert api.get("/api/tasks", bob.token).get_json()["total"] == 0
    assert_problem(api.get(f"/api/tasks/{task['id']}", bob.token), 404)
    assert api.get("/api/tasks", alice.token).get_json()["total"] == 1
    assert api.get(f"/api/tasks/{task['id']}", alice.token).get_json()["title"] == task["title"]


def test_unshare_own_share_twice_returns_404_the_second_time(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")
    assert api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", bob.token).status_code == 204

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", bob.token)

    assert_problem(response, 404)
    assert share_rows(app) == []
    assert task_ids(app) == {task["id"]}


def test_unshare_by_stranger_returns_404_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", carol.token)

    assert_problem(response, 404)
    assert share_rows(app) == [(task["id"], bob.id, "view")]
