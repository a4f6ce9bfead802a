"""Deleting one's account (docs/api.md, Accounts): with the current password, and the
username and email free again."""

from __future__ import annotations

from flask import Flask

from tests.support.auth import register_body, session_count, stored_user, users
from tests.support.factories import PASSWORD, ApiClient, assert_problem

# --- DELETE /api/me --------------------------------------------------------------------


def test_delete_me_returns_204_and_removes_user_and_sessions(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    api.login(username="alice", password=PASSWORD)
    bob = api.account("bob")
    assert session_count(app, account.id) == 2

    response = api.delete("/api/me", account.token, json={"current_password": account.password})

    assert response.status_code == 204
    assert response.get_data() == b""
    assert stored_user(app, account.id) is None
    assert session_count(app, account.id) == 0
    assert [row[1] for row in users(app)] == ["bob"]
    assert session_count(app, bob.id) == 1


def test_delete_me_with_wrong_current_password_returns_400_and_deletes_nothing(
    api: ApiClient, app: Flask
) -> None:
    account = api.account("alice")
    before = stored_user(app, account.id)

    response = api.delete("/api/me", account.token, json={"current_password": "not my password"})

    body = assert_problem(response, 400)
    assert body["errors"] == {"current_password": ["Current password is incorrect."]}
    assert stored_user(app, account.id) == before
    assert session_count(app, account.id) == 1


def test_delete_me_without_current_password_returns_400_and_deletes_nothing(
    api: ApiClient, app: Flask
) -> None:
    account = api.account("alice")

    response = api.delete("/api/me", account.token)

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"current_password"}
    assert stored_user(app, account.id) is not None
    assert session_count(app, account.id) == 1


def test_openapi_delete_me_documents_the_current_password_body(api: ApiClient) -> None:
    spec = api.client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/me"]["delete"]

    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    assert operation["requestBody"]["required"] is True
    assert spec["components"]["schemas"][name]["required"] == ["current_password"]


def test_delete_me_makes_login_fail(api: ApiClient) -> None:
    account = api.account("alice")
    api.delete("/api/me", account.token, json={"current_password": account.password})

    response = api.login(username="alice", password=PASSWORD)

    assert_problem(response, 401)


def test_delete_me_without_token_returns_401(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    response = api.delete("/api/me")

    assert_problem(response, 401)
    assert stored_user(app, account.id) is not None


def test_delete_me_frees_username_and_email(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    api.delete("/api/me", account.token, json={"current_password": account.password})

    response = api.client.post("/api/register", json=register_body())

    assert response.status_code == 201
    assert [row[1:] for row in users(app)] == [("alice", "alice@example.com")]
