"""Registering an account (docs/api.md, Accounts): ids, argon2id hashes, names and
emails unique ignoring case, and every way a body is refused."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from tests.support.auth import register_body, stored_user, users
from tests.support.factories import PASSWORD, ApiClient, assert_problem

# --- POST /api/register ----------------------------------------------------------------


def test_register_valid_body_returns_201_with_seed_body(api: ApiClient, app: Flask) -> None:
    response = api.client.post("/api/register", json=register_body())

    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.get_json() == {"message": "User created successfully", "user_id": 1}
    assert response.headers["X-Request-Id"]
    assert users(app) == [(1, "alice", "alice@example.com")]


def test_register_second_user_returns_next_id(api: ApiClient, app: Flask) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.client.post(
        "/api/register", json=register_body(username="bob", email="bob@example.com")
    )

    assert response.status_code == 201
    assert response.get_json() == {"message": "User created successfully", "user_id": 2}
    assert [row[1] for row in users(app)] == ["alice", "bob"]


def test_register_stores_password_only_as_argon2id_hash(api: ApiClient, app: Flask) -> None:
    user_id = api.client.post("/api/register", json=register_body()).get_json()["user_id"]

    stored = stored_user(app, user_id)
    assert stored is not None
    assert stored["hash"].startswith("$argon2id$")
    assert PASSWORD not in stored["hash"]
    assert PasswordHasher().verify(stored["hash"], PASSWORD)


def test_register_same_password_twice_stores_different_salted_hashes(
    api: ApiClient, app: Flask
) -> None:
    first = api.client.post("/api/register", json=register_body()).get_json()["user_id"]
    second = api.client.post(
        "/api/register", json=register_body(username="bob", email="bob@example.com")
    ).get_json()["user_id"]

    first_hash = stored_user(app, first)["hash"]  # type: ignore[index]
    second_hash = stored_user(app, second)["hash"]  # type: ignore[index]
    assert first_hash != second_hash


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
def test_register_duplicate_username_ignoring_case_returns_409(
    api: ApiClient, app: Flask, username: str
) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.client.post(
        "/api/register", json=register_body(username=username, email="other@example.com")
    )

    body = assert_problem(response, 409)
    assert body["title"] == "Conflict"
    assert users(app) == [(1, "alice", "alice@example.com")]


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com"])
def test_register_duplicate_email_ignoring_case_returns_409(
    api: ApiClient, app: Flask, email: str
) -> None:
    api.client.post("/api/register", json=register_body())

    response = api.client.post("/api/register", json=register_body(username="bob", email=email))

    body = assert_problem(response, 409)
    assert body["title"] == "Conflict"
    assert users(app) == [(1, "alice", "alice@example.com")]


INVALID_REGISTRATIONS = {
    "username-too-short": ({"username": "ab"}, "username"),
    "username-too-long": ({"username": "a" * 33}, "username"),
    "username-with-space": ({"username": "bad name"}, "username"),
    "username-with-symbol": ({"username": "bad!name"}, "username"),
    "username-with-at-sign": ({"username": "bad@name"}, "username"),
    "username-not-ascii": ({"username": "jos\u00e9"}, "username"),
    "username-not-a-string": ({"username": 12345}, "username"),
    "email-without-at": ({"email": "not-an-email"}, "email"),
    "email-without-domain": ({"email": "alice@"}, "email"),
    "email-empty": ({"email": ""}, "email"),
    "password-too-short": ({"password": "x" * 7}, "password"),
    "password-too-long": ({"password": "x" * 129}, "password"),
    "password-not-a-string": ({"password": 12345678}, "password"),
    "unknown-field": ({"is_admin": True}, "is_admin"),
    "read-only-id": ({"id": 99}, "id"),
    "read-only-created-at": ({"created_at": "2026-01-05T10:30:00Z"}, "created_at"),
}


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    list(INVALID_REGISTRATIONS.values()),
    ids=list(INVALID_REGISTRATIONS),
)
def test_register_invalid_field_returns_400_naming_it(
    api: ApiClient, app: Flask, fields: dict[str, Any], bad_field: str
) -> None:
    response = api.client.post("/api/register", json=register_body(**fields))

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {bad_field}
    assert body["errors"][bad_field]
    assert users(app) == []


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_register_missing_field_returns_400_naming_it(
    api: ApiClient, app: Flask, missing: str
) -> None:
    body = register_body()
    del body[missing]

    response = api.client.post("/api/register", json=body)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {missing}
    assert users(app) == []


def test_register_several_bad_fields_names_every_one(api: ApiClient, app: Flask) -> None:
    response = api.client.post(
        "/api/register",
        json={"username": "x", "email": "nope", "password": "short", "is_admin": True},
    )

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"username", "email", "password", "is_admin"}
    assert users(app) == []


def test_register_empty_object_names_every_required_field(api: ApiClient, app: Flask) -> None:
    response = api.client.post("/api/register", json={})

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"username", "email", "password"}
    assert users(app) == []


def test_register_malformed_json_returns_400(api: ApiClient, app: Flask) -> None:
    response = api.client.post(
        "/api/register", data="{not json", headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 400)
    assert users(app) == []


def test_register_json_array_body_returns_400(api: ApiClient, app: Flask) -> None:
    response = api.client.post("/api/register", json=[register_body()])

    assert_problem(response, 400)
    assert users(app) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "abc"},
        {"username": "a" * 32},
        {"username": "A.b_c-9"},
        {"password": "x" * 8},
        {"password": "x" * 128},
    ],
    ids=["username-3", "username-32", "username-all-classes", "password-8", "password-128"],
)
def test_register_value_at_limit_returns_201(
    api: ApiClient, app: Flask, fields: dict[str, Any]
) -> None:
    response = api.client.post("/api/register", json=register_body(**fields))

    assert response.status_code == 201, response.get_json()
    assert len(users(app)) == 1


def test_register_after_delete_never_reuses_the_id(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    assert (
        api.delete(
            "/api/me", account.token, json={"current_password": account.password}
        ).status_code
        == 204
    )

    response = api.client.post(
        "/api/register", json=register_body(username="bob", email="bob@example.com")
    )

    assert response.status_code == 201
    assert response.get_json()["user_id"] > account.id
    assert [row[0] for row in users(app)] == [response.get_json()["user_id"]]


# --- POST /api/logout ------------------------------------------------------------------


def test_register_username_with_trailing_newline_returns_400(api: ApiClient, app: Flask) -> None:
    """``$`` in a plain regex match lets a final newline through; the rule must not."""
    response = api.register("alice\n", email="alice@example.com")
    assert response.status_code == 400
    assert "username" in response.json["errors"]
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_register_password_with_nul_returns_400_and_creates_no_user(
    api: ApiClient, app: Flask
) -> None:
    response = api.register("nully", password="long\x00enough")
    assert "password" in assert_problem(response, 400)["errors"]
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_register_returns_the_seed_body(api):
    response = api.register("alice", email="alice@example.com", password="secret123")
    assert response.status_code == 201
    assert response.json == {"message": "User created successfully", "user_id": 1}
