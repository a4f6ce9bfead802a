"""The caller's profile (docs/api.md, Accounts): GET /api/me, and PATCH /api/me to
change the email or password with the current password."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask

from tests.support.auth import revoked_flags, stored_user
from tests.support.factories import NEW_PASSWORD, PASSWORD, TIMESTAMP, ApiClient, assert_problem

PROFILE_FIELDS = {
    "id",
    "username",
    "email",
    "timezone",
    "remind_in_app",
    "remind_by_email",
    "digest_at",
    "theme",
    "created_at",
    "updated_at",
}

# --- GET /api/me -----------------------------------------------------------------------


def test_get_me_returns_profile(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    response = api.get("/api/me", account.token)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == PROFILE_FIELDS
    assert body["id"] == account.id
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert TIMESTAMP.match(body["created_at"]), body["created_at"]
    assert TIMESTAMP.match(body["updated_at"]), body["updated_at"]
    assert body["created_at"] <= body["updated_at"]
    assert "password" not in response.get_data(as_text=True)


def test_get_me_returns_the_callers_profile_not_another(api: ApiClient) -> None:
    api.account("alice")
    bob = api.account("bob")

    response = api.get("/api/me", bob.token)

    assert response.status_code == 200
    assert response.get_json()["id"] == bob.id
    assert response.get_json()["username"] == "bob"


def test_get_me_without_token_returns_401(api: ApiClient) -> None:
    api.account("alice")

    response = api.get("/api/me")

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- PATCH /api/me ---------------------------------------------------------------------


def test_patch_me_email_with_current_password_changes_it(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    response = api.patch(
        "/api/me",
        account.token,
        json={"email": "new@example.com", "current_password": PASSWORD},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == "new@example.com"
    assert body["username"] == "alice"
    assert set(body) == PROFILE_FIELDS
    assert stored_user(app, account.id)["email"] == "new@example.com"  # type: ignore[index]
    assert api.login(email="new@example.com", password=PASSWORD).status_code == 200
    assert api.login(email="alice@example.com", password=PASSWORD).status_code == 401


def test_patch_me_own_email_in_other_case_succeeds(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    response = api.patch(
        "/api/me",
        account.token,
        json={"email": "ALICE@example.com", "current_password": PASSWORD},
    )

    assert response.status_code == 200
    assert response.get_json()["email"] == "ALICE@example.com"
    assert stored_user(app, account.id)["email"] == "ALICE@example.com"  # type: ignore[index]


def test_patch_me_wrong_current_password_returns_400_and_changes_nothing(
    api: ApiClient, app: Flask
) -> None:
    account = api.account("alice")
    before = stored_user(app, account.id)

    response = api.patch(
        "/api/me",
        account.token,
        json={
            "email": "new@example.com",
            "password": NEW_PASSWORD,
            "current_password": "not my password",
        },
    )

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"current_password"}
    assert stored_user(app, account.id) == before
    assert revoked_flags(app, account.id) == [False]
    assert api.get("/api/me", account.token).status_code == 200


def test_patch_me_without_current_password_returns_400(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    before = stored_user(app, account.id)

    response = api.patch("/api/me", account.token, json={"email": "new@example.com"})

    body = assert_problem(response, 400)
    assert "current_password" in body["errors"]
    assert stored_user(app, account.id) == before


def test_patch_me_email_taken_by_other_user_returns_409(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    api.account("bob")
    before = stored_user(app, account.id)

    response = api.patch(
        "/api/me",
        account.token,
        json={"email": "BOB@example.com", "current_password": PASSWORD},
    )

    body = assert_problem(response, 409)
    assert body["title"] == "Conflict"
    assert stored_user(app, account.id) == before


def test_patch_me_empty_object_returns_400(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    before = stored_user(app, account.id)

    response = api.patch("/api/me", account.token, json={})

    body = assert_problem(response, 400)
    assert body["errors"]
    assert stored_user(app, account.id) == before


def test_patch_me_only_current_password_returns_400(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    before = stored_user(app, account.id)

    response = api.patch("/api/me", account.token, json={"current_password": PASSWORD})

    body = assert_problem(response, 400)
    assert body["errors"]
    assert "current_password" not in body["errors"]
    assert stored_user(app, account.id) == before


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "x" * 7}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"username": "renamed"}, "username"),
        ({"id": 42}, "id"),
        ({"created_at": "2026-01-05T10:30:00Z"}, "created_at"),
        ({"email": "new@example.com", "is_admin": True}, "is_admin"),
    ],
    ids=[
        "bad-email",
        "short-password",
        "long-password",
        "username",
        "read-only-id",
        "read-only-created-at",
        "unknown-field",
    ],
)
def test_patch_me_invalid_field_returns_400_naming_it(
    api: ApiClient, app: Flask, fields: dict[str, Any], bad_field: str
) -> None:
    account = api.account("alice")
    before = stored_user(app, account.id)

    response = api.patch("/api/me", account.token, json={"current_password": PASSWORD, **fields})

    body = assert_problem(response, 400)
    assert bad_field in body["errors"]
    assert stored_user(app, account.id) == before


def test_patch_me_password_makes_new_password_work_for_login(api: ApiClient) -> None:
    account = api.account("alice")

    response = api.patch(
        "/api/me", account.token, json={"password": NEW_PASSWORD, "current_password": PASSWORD}
    )

    assert response.status_code == 200
    assert response.get_json()["username"] == "alice"
    assert "password" not in response.get_data(as_text=True)
    assert api.login(username="alice", password=NEW_PASSWORD).status_code == 200


def test_patch_me_password_makes_old_password_fail_for_login(api: ApiClient) -> None:
    account = api.account("alice")

    api.patch(
        "/api/me", account.token, json={"password": NEW_PASSWORD, "current_password": PASSWORD}
    )

    response = api.login(username="alice", password=PASSWORD)
    assert_problem(response, 401)


def test_patch_me_password_stores_new_argon2id_hash(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    old_hash = stored_user(app, account.id)["hash"]  # type: ignore[index]

    api.patch(
        "/api/me", account.token, json={"password": NEW_PASSWORD, "current_password": PASSWORD}
    )

    new_hash = stored_user(app, account.id)["hash"]  # type: ignore[index]
    assert new_hash != old_hash
    assert new_hash.startswith("$argon2id$")
    assert NEW_PASSWORD not in new_hash
    assert PasswordHasher().verify(new_hash, NEW_PASSWORD)


def test_patch_me_without_token_returns_401(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    before = stored_user(app, account.id)

    response = api.patch("/api/me", json={"email": "new@example.com", "current_password": PASSWORD})

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored_user(app, account.id) == before
