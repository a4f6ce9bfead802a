"""Logging in (docs/api.md, Accounts): by email or username in any case, the token
pair, one answer for every failure, and rehashing when the argon2 cost changed."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask

from tests.support.auth import register_body, session_count, stored_user
from tests.support.factories import PASSWORD, ApiClient, assert_problem

# --- POST /api/login -------------------------------------------------------------------


def test_login_by_email_returns_bearer_token_pair(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.login(email="alice@example.com", password=PASSWORD)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["token"].count(".") == 2
    assert body["refresh_token"]
    assert body["refresh_token"] != body["token"]
    assert session_count(app, 1) == 1


def test_login_by_username_returns_bearer_token_pair(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.login(username="alice", password=PASSWORD)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert api.get("/api/me", body["token"]).get_json()["username"] == "alice"
    assert session_count(app, 1) == 1


def test_login_email_in_other_case_succeeds(api: ApiClient) -> None:
    api.client.post("/api/register", json=register_body(email="Alice@Example.com"))

    response = api.login(email="aLICE@eXAMPLE.COM", password=PASSWORD)

    assert response.status_code == 200
    assert api.get("/api/me", response.get_json()["token"]).get_json()["id"] == 1


def test_login_username_in_other_case_succeeds(api: ApiClient) -> None:
    api.client.post("/api/register", json=register_body(username="Alice"))

    response = api.login(username="aLICE", password=PASSWORD)

    assert response.status_code == 200
    assert api.get("/api/me", response.get_json()["token"]).get_json()["username"] == "Alice"


def test_login_expires_in_follows_access_token_ttl(make_app: Any) -> None:
    api = ApiClient(make_app(ACCESS_TOKEN_TTL=120).test_client())
    api.client.post("/api/register", json=register_body())

    response = api.login(username="alice", password=PASSWORD)

    assert response.status_code == 200
    assert response.get_json()["expires_in"] == 120


def test_login_wrong_password_returns_401(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.login(username="alice", password="wrong password")

    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" not in body
    assert session_count(app, 1) == 0


def test_login_unknown_user_returns_401(api: ApiClient) -> None:
    response = api.login(username="nobody", password=PASSWORD)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("identifier", ["username", "email"])
def test_login_unknown_user_and_wrong_password_get_identical_answers(
    api: ApiClient, identifier: str
) -> None:
    api.client.post("/api/register", json=register_body())
    known = "alice" if identifier == "username" else "alice@example.com"
    unknown = "nobody" if identifier == "username" else "nobody@example.com"

    wrong_password = api.login(**{identifier: known, "password": "wrong password"})
    unknown_user = api.login(**{identifier: unknown, "password": "wrong password"})

    first, second = assert_problem(wrong_password, 401), assert_problem(unknown_user, 401)
    assert first["detail"] == second["detail"]
    assert first["title"] == second["title"]
    assert wrong_password.headers["WWW-Authenticate"] == unknown_user.headers["WWW-Authenticate"]


def test_login_with_email_and_username_returns_400(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.login(username="alice", email="alice@example.com", password=PASSWORD)

    body = assert_problem(response, 400)
    assert {"email", "username"} & set(body["errors"])
    assert session_count(app, 1) == 0


def test_login_without_email_or_username_returns_400(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.login(password=PASSWORD)

    body = assert_problem(response, 400)
    assert {"email", "username"} & set(body["errors"])
    assert session_count(app, 1) == 0


def test_login_without_password_returns_400(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.login(username="alice")

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"password"}
    assert session_count(app, 1) == 0


def test_login_unknown_field_returns_400(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.login(username="alice", password=PASSWORD, remember_me=True)

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"remember_me"}
    assert session_count(app, 1) == 0


def test_login_after_argon2_cost_raised_rehashes_password(make_app: Any) -> None:
    old_app = make_app()
    ApiClient(old_app.test_client()).client.post("/api/register", json=register_body())
    old_hash = stored_user(old_app, 1)["hash"]  # type: ignore[index]
    new_app = make_app(ARGON2_TIME_COST=2)

    response = ApiClient(new_app.test_client()).login(username="alice", password=PASSWORD)

    assert response.status_code == 200
    new_hash = stored_user(new_app, 1)["hash"]  # type: ignore[index]
    assert "t=1" in old_hash.split("$")[3]
    assert new_hash != old_hash
    assert new_hash.startswith("$argon2id$")
    assert "t=2" in new_hash.split("$")[3]
    assert PasswordHasher().verify(new_hash, PASSWORD)


def test_login_with_unchanged_argon2_cost_keeps_hash(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())
    before = stored_user(app, 1)["hash"]  # type: ignore[index]

    response = api.login(username="alice", password=PASSWORD)

    assert response.status_code == 200
    assert stored_user(app, 1)["hash"] == before  # type: ignore[index]


def test_login_wrong_password_after_cost_raised_keeps_hash(make_app: Any) -> None:
    old_app = make_app()
    ApiClient(old_app.test_client()).client.post("/api/register", json=register_body())
    old_hash = stored_user(old_app, 1)["hash"]  # type: ignore[index]
    new_app = make_app(ARGON2_TIME_COST=2)

    response = ApiClient(new_app.test_client()).login(username="alice", password="wrong pass")

    assert_problem(response, 401)
    assert stored_user(new_app, 1)["hash"] == old_hash  # type: ignore[index]
