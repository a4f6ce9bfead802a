"""Account routes: register, login, profile, logout; the error shape (docs/api.md)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import func, select

from doable.auth.models import AuthSession, User
from doable.extensions import db
from tests.support.factories import PASSWORD, ApiClient, assert_problem

PROBLEM_JSON = "application/problem+json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NEW_PASSWORD = "a brand new passphrase"


# --- helpers -------------------------------------------------------------------------


def users(app: Flask) -> list[tuple[int, str, str]]:
    """Every stored user as (id, username, email), read straight from the database."""
    with app.app_context():
        rows = db.session.execute(
            select(User.id, User.username, User.email).order_by(User.id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def stored_user(app: Flask, user_id: int) -> dict[str, Any] | None:
    with app.app_context():
        user = db.session.get(User, user_id)
        if user is None:
            return None
        return {"username": user.username, "email": user.email, "hash": user.password_hash}


def session_count(app: Flask, user_id: int) -> int:
    with app.app_context():
        query = select(func.count()).select_from(AuthSession)
        return int(db.session.scalar(query.where(AuthSession.user_id == user_id)) or 0)


def revoked_flags(app: Flask, user_id: int) -> list[bool]:
    with app.app_context():
        query = select(AuthSession.revoked_at).where(AuthSession.user_id == user_id)
        return [revoked is not None for revoked in db.session.scalars(query)]


def register_body(**fields: Any) -> dict[str, Any]:
    body = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
    body.update(fields)
    return body


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


# --- GET /api/me -----------------------------------------------------------------------


def test_get_me_returns_profile(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    response = api.get("/api/me", account.token)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"id", "username", "email", "created_at", "updated_at"}
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
    assert set(body) == {"id", "username", "email", "created_at", "updated_at"}
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


def test_register_username_with_trailing_newline_returns_400(api: ApiClient, app: Flask) -> None:
    """``$`` in a plain regex match lets a final newline through; the rule must not."""
    response = api.register("alice\n", email="alice@example.com")
    assert response.status_code == 400
    assert "username" in response.json["errors"]
    with app.app_context():
        assert db.session.query(User).count() == 0
