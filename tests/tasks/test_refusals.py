"""Task routes refused before they reach a task: no valid token (401) and a method the
route does not have (405); neither changes anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask

from tests.support.factories import Account, ApiClient, assert_problem, stored_task
from tests.support.tasks import create, task_count

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
