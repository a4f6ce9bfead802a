"""Who may touch a category: another user's is a 404 like a missing one, and no token
is a 401."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.support.categories import add_category, category_rows, links
from tests.support.factories import HUGE_ID, Account, ApiClient, assert_problem
from tests.support.tasks import create

# --- POST /api/categories ------------------------------------------------------------


def test_category_routes_without_token_return_401(api: ApiClient, app: Flask) -> None:
    response = api.post("/api/categories", json={"name": "Study"})

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert category_rows(app) == []


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
    create(api, bob, categories=["Secret plans"])
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
