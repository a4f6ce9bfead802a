"""Reading one task (docs/api.md, Tasks): its representation, and that another user's
task is a 404 exactly like one that never existed."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.factories import HUGE_ID, Account, ApiClient, assert_problem, stored_task
from tests.support.tasks import create, task_count

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
