"""Logging out (docs/api.md, Accounts): the session is revoked, once."""

from __future__ import annotations

from flask import Flask

from tests.support.auth import revoked_flags, stored_user
from tests.support.factories import ApiClient, assert_problem

# --- POST /api/logout ------------------------------------------------------------------


def test_logout_returns_204_and_revokes_the_session(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    response = api.post("/api/logout", account.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["X-Request-Id"]
    assert revoked_flags(app, account.id) == [True]
    assert stored_user(app, account.id) is not None


def test_logout_without_token_returns_401(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    response = api.post("/api/logout")

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert revoked_flags(app, account.id) == [False]


def test_logout_twice_with_same_token_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    api.post("/api/logout", account.token)

    response = api.post("/api/logout", account.token)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
