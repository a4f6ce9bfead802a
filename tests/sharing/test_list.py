"""Listing a task's shares (docs/api.md, Sharing): the owner's alone, in the order made."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.sharing import add_task, user_ref

# --- GET /api/tasks/<id>/share -------------------------------------------------------


def test_list_shares_returns_every_share_in_the_order_made(
    api: ApiClient, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], carol, "edit")
    share(api, alice, task["id"], bob, "view")

    response = api.get(f"/api/tasks/{task['id']}/share", alice.token)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "shares": [
            {"task_id": task["id"], "user": user_ref(carol), "permission": "edit"},
            {"task_id": task["id"], "user": user_ref(bob), "permission": "view"},
        ]
    }


def test_list_shares_of_unshared_task_returns_empty_list(
    api: ApiClient, alice: Account, task: dict[str, Any]
) -> None:
    response = api.get(f"/api/tasks/{task['id']}/share", alice.token)

    assert response.status_code == 200
    assert response.get_json() == {"shares": []}


def test_list_shares_shows_only_that_tasks_shares(
    api: ApiClient, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    other = add_task(api, alice, title="other")
    share(api, alice, other["id"], carol, "view")
    share(api, alice, task["id"], bob, "edit")

    response = api.get(f"/api/tasks/{task['id']}/share", alice.token)

    assert response.get_json() == {
        "shares": [{"task_id": task["id"], "user": user_ref(bob), "permission": "edit"}]
    }


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_list_shares_by_sharee_returns_403(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any], permission: str
) -> None:
    share(api, alice, task["id"], bob, permission)

    response = api.get(f"/api/tasks/{task['id']}/share", bob.token)

    problem = assert_problem(response, 403)
    assert "shares" not in problem


def test_list_shares_by_stranger_returns_404(
    api: ApiClient, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")

    response = api.get(f"/api/tasks/{task['id']}/share", carol.token)

    assert_problem(response, 404)
    assert "bob" not in response.get_data(as_text=True)
