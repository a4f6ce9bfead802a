"""Deleting tasks (docs/api.md, Tasks): gone at once, others kept, ids never reused."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.factories import Account, ApiClient, assert_problem, stored_task
from tests.support.tasks import create, task_count

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
