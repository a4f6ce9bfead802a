"""Personal API tokens through the API (docs/api.md, API tokens): create, list, revoke;
what is stored; bounds and validation; authenticating with one."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest
import sqlalchemy as sa
from flask import Flask

from doable.api_tokens.models import ApiToken
from doable.config import API_TOKEN_KEY_LABEL, derive_key
from doable.extensions import db
from tests.conftest import TEST_SECRET
from tests.support.api_tokens import new_token, stored_tokens
from tests.support.factories import (
    NEW_PASSWORD,
    PASSWORD,
    TIMESTAMP,
    Account,
    ApiClient,
    assert_problem,
    at_once,
)

TOKEN = re.compile(r"^dbl_[A-Za-z0-9]{40}$")
#: What the test apps hash tokens with, derived here as docs/api.md says.
HASH_KEY = derive_key(TEST_SECRET, API_TOKEN_KEY_LABEL)


def _hmac(token: str) -> str:
    return hmac.new(HASH_KEY.encode(), token.encode(), hashlib.sha256).hexdigest()


def _in(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set(app: Flask, token_id: int, **values: Any) -> None:
    with app.app_context():
        db.session.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(**values))
        db.session.commit()


# --- create -------------------------------------------------------------------------


def test_create_answers_the_token_once_with_its_prefix_and_scopes(
    api: ApiClient, alice: Account
) -> None:
    response = api.post(
        "/api/tokens",
        alice.token,
        json={"name": "backup", "scopes": ["tasks:read", "events:read"], "expires_at": _in(days=7)},
    )

    assert response.status_code == 201
    body = response.json
    assert set(body) == {
        "id",
        "name",
        "scopes",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "token",
    }
    assert TOKEN.match(body["token"])
    assert body["prefix"] == body["token"][:12]
    assert body["scopes"] == ["tasks:read", "events:read"]
    assert TIMESTAMP.match(body["created_at"])
    assert TIMESTAMP.match(body["expires_at"])
    assert body["last_used_at"] is None
    listed = api.get("/api/tokens", alice.token).json["tokens"]
    assert listed == [{k: v for k, v in body.items() if k != "token"}]


def test_only_a_keyed_hash_of_the_token_is_stored(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    created = new_token(api, alice)

    (row,) = stored_tokens(app)
    assert row["token_hash"] == _hmac(created["token"])
    assert row["token_hash"] != hashlib.sha256(created["token"].encode()).hexdigest()
    assert created["token"] not in {str(value) for value in row.values()}
    assert row["prefix"] == created["token"][:12]
    assert row["user_id"] == alice.id


def test_two_tokens_differ(api: ApiClient, alice: Account) -> None:
    assert new_token(api, alice)["token"] != new_token(api, alice)["token"]


def test_create_beyond_the_limit_is_409_with_the_limit(make_app: Any) -> None:
    api = ApiClient(make_app(MAX_API_TOKENS_PER_USER=2).test_client())
    alice, bob = api.account("alice"), api.account("bob")
    new_token(api, alice)
    new_token(api, alice)

    refused = api.post("/api/tokens", alice.token, json={"name": "x", "scopes": ["tasks:read"]})

    body = assert_problem(refused, 409)
    assert body["type"].endswith("/api-token-limit-reached")
    assert body["limit"] == 2
    assert len(api.get("/api/tokens", alice.token).json["tokens"]) == 2
    new_token(api, bob)  # per user
    assert api.delete(f"/api/tokens/{refused_id(api, alice)}", alice.token).status_code == 204
    new_token(api, alice)  # room again


def test_racing_creates_never_pass_the_limit(make_app: Any) -> None:
    """Each create counts the user's tokens and adds its own as one step the others wait
    for, so requests racing for the last free places cannot all see room."""
    app = make_app(MAX_API_TOKENS_PER_USER=3)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    new_token(api, alice)
    racers = 8

    statuses = [
        response.status_code
        for response in at_once(
            app,
            lambda client, n: ApiClient(client).post(
                "/api/tokens", alice.token, json={"name": f"racer {n}", "scopes": ["tasks:read"]}
            ),
            racers,
        )
    ]

    assert sorted(statuses) == [201, 201] + [409] * (racers - 2), statuses
    assert len(stored_tokens(app)) == 3


def refused_id(api: ApiClient, account: Account) -> int:
    return int(api.get("/api/tokens", account.token).json["tokens"][0]["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["tasks:read"]}, "name"),
        ({"name": "", "scopes": ["tasks:read"]}, "name"),
        ({"name": "x" * 101, "scopes": ["tasks:read"]}, "name"),
        ({"name": "a\nb", "scopes": ["tasks:read"]}, "name"),
        ({"name": "   ", "scopes": ["tasks:read"]}, "name"),
        ({"name": "a\u200bb", "scopes": ["tasks:read"]}, "name"),
        ({"name": "x"}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["admin"]}, "scopes.0"),
        ({"name": "x", "scopes": "tasks:read"}, "scopes"),
        ({"name": "x", "scopes": ["tasks:read", "tasks:read"]}, "scopes"),
        (
            {"name": "x", "scopes": ["tasks:read"], "expires_at": "2001-01-01T00:00:00Z"},
            "expires_at",
        ),
        ({"name": "x", "scopes": ["tasks:read"], "expires_at": "soon"}, "expires_at"),
        (
            {"name": "x", "scopes": ["tasks:read"], "expires_at": "9999-12-31T23:00:00-05:00"},
            "expires_at",
        ),
        ({"name": "x", "scopes": ["tasks:read"], "token": "dbl_mine"}, "token"),
        ({"name": "x", "scopes": ["tasks:read"], "prefix": "dbl_"}, "prefix"),
    ],
)
def test_create_refuses_invalid_input_by_field(
    app: Flask, api: ApiClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/tokens", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert field in problem["errors"], problem
    assert stored_tokens(app) == []


def test_create_takes_a_moment_without_offset_as_utc(api: ApiClient, alice: Account) -> None:
    moment = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0, tzinfo=None)
    created = new_token(api, alice, expires_at=moment.isoformat())

    assert created["expires_at"] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- list and revoke ------------------------------------------------------------------


def test_list_shows_only_your_tokens_newest_first(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    first = new_token(api, alice, name="first")
    second = new_token(api, alice, name="second")
    new_token(api, bob, name="bob's")

    listed = api.get("/api/tokens", alice.token).json["tokens"]

    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    assert all("token" not in t for t in listed)


def test_revoke_deletes_the_row_and_the_token_stops_working_at_once(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    created = new_token(api, alice)
    assert api.get("/api/tasks", created["token"]).status_code == 200

    assert api.delete(f"/api/tokens/{created['id']}", alice.token).status_code == 204

    assert stored_tokens(app) == []
    refused = assert_problem(api.get("/api/tasks", created["token"]), 401)
    assert refused["type"].endswith("/invalid-token")
    assert api.delete(f"/api/tokens/{created['id']}", alice.token).status_code == 404


@pytest.mark.parametrize("token_id", ["bob", "0", "2147483648", "99999"])
def test_revoke_someone_else_s_or_a_missing_token_is_404(
    app: Flask, api: ApiClient, alice: Account, bob: Account, token_id: str
) -> None:
    bobs = new_token(api, bob)
    path_id = str(bobs["id"]) if token_id == "bob" else token_id

    body = assert_problem(api.delete(f"/api/tokens/{path_id}", alice.token), 404)

    assert body["type"].endswith("/api-token-not-found")
    assert len(stored_tokens(app)) == 1


def test_account_deletion_removes_its_tokens(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    created = new_token(api, alice)
    new_token(api, bob)

    gone = api.delete("/api/me", alice.token, json={"current_password": PASSWORD})

    assert gone.status_code == 204
    assert [row["user_id"] for row in stored_tokens(app)] == [bob.id]
    assert api.get("/api/tasks", created["token"]).status_code == 401


# --- authenticating with one ----------------------------------------------------------


def test_a_token_acts_as_its_user(api: ApiClient, alice: Account) -> None:
    token = new_token(api, alice, scopes=["tasks:read", "tasks:write"])["token"]

    created = api.post("/api/tasks", token, json={"title": "From a script"})

    assert created.status_code == 201
    assert created.json["owner"]["username"] == "alice"
    assert api.get("/api/tasks", alice.token).json["total"] == 1


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_an_expired_token_is_401_invalid_token(
    app: Flask, api: ApiClient, alice: Account, scheme: str
) -> None:
    created = new_token(api, alice, expires_at=_in(hours=1))
    _set(app, created["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))

    response = api.client.get(
        "/api/tasks", headers={"Authorization": f"{scheme} {created['token']}"}
    )

    body = assert_problem(response, 401)
    assert body["type"].endswith("/invalid-token")
    assert "expired" in body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


@pytest.mark.parametrize(
    "token",
    [
        "dbl_",
        "dbl_" + "a" * 40,  # well-formed, never issued
        "dbl_" + "a" * 39 + "!",
        "dbl_" + "a" * 4000,
    ],
)
def test_an_unknown_or_malformed_api_token_is_401(
    api: ApiClient, alice: Account, token: str
) -> None:
    new_token(api, alice)

    body = assert_problem(api.get("/api/tasks", token), 401)

    assert body["type"].endswith("/invalid-token")


def test_a_token_with_one_character_changed_is_401(api: ApiClient, alice: Account) -> None:
    token = new_token(api, alice)["token"]
    other = token[:-1] + ("a" if token[-1] != "a" else "b")

    assert assert_problem(api.get("/api/tasks", other), 401)["type"].endswith("/invalid-token")


def test_a_request_looks_the_token_up_in_one_query(
    app: Flask, api: ApiClient, alice: Account, statements: list[str]
) -> None:
    token = new_token(api, alice, scopes=["tasks:read"])["token"]
    api.get("/api/categories", token)  # records its first use
    statements.clear()

    assert api.get("/api/categories", token).status_code == 200

    on_tokens = [s for s in statements if "api_token" in s]
    assert len(on_tokens) == 1
    assert on_tokens[0].lstrip().upper().startswith("SELECT")
    assert "token_hash" in on_tokens[0]


def test_last_used_at_is_written_at_most_once_a_minute(
    app: Flask, api: ApiClient, alice: Account, statements: list[str]
) -> None:
    created = new_token(api, alice, scopes=["tasks:read"])
    token = created["token"]

    api.get("/api/tasks", token)
    first = stored_tokens(app)[0]["last_used_at"]
    assert first is not None
    assert abs(first - datetime.now(UTC)) < timedelta(seconds=30)
    statements.clear()
    for _ in range(3):
        api.get("/api/tasks", token)
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE api_token".upper())]
    assert stored_tokens(app)[0]["last_used_at"] == first

    a_while_ago = datetime.now(UTC) - timedelta(minutes=2)
    _set(app, created["id"], last_used_at=a_while_ago)
    api.get("/api/tasks", token)

    later = stored_tokens(app)[0]["last_used_at"]
    assert later > a_while_ago + timedelta(minutes=1)
    listed = api.get("/api/tokens", alice.token).json["tokens"][0]
    assert TIMESTAMP.match(listed["last_used_at"])


def test_a_refused_call_does_not_count_as_a_use(app: Flask, api: ApiClient, alice: Account) -> None:
    reader = new_token(api, alice, scopes=["tasks:read"])
    expired = new_token(api, alice, expires_at=_in(hours=1))
    _set(app, expired["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))

    assert api.get("/api/tasks", expired["token"]).status_code == 401
    assert api.post("/api/tasks", reader["token"], json={"title": "x"}).status_code == 403
    assert api.get("/api/me", reader["token"]).status_code == 403

    assert [row["last_used_at"] for row in stored_tokens(app)] == [None, None]


# --- password change ----------------------------------------------------------------


def test_a_password_change_keeps_api_tokens(app: Flask, api: ApiClient, alice: Account) -> None:
    token = new_token(api, alice)["token"]
    body = {"current_password": PASSWORD, "password": NEW_PASSWORD}

    assert api.patch("/api/me", alice.token, json=body).status_code == 200

    assert api.get("/api/tasks", alice.token).status_code == 401  # the login ended
    assert api.get("/api/tasks", token).status_code == 200
    assert len(stored_tokens(app)) == 1


def test_a_password_change_asked_to_revoke_api_tokens_revokes_them(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    token = new_token(api, alice)["token"]
    new_token(api, bob)
    body = {"current_password": PASSWORD, "password": NEW_PASSWORD, "revoke_api_tokens": True}

    assert api.patch("/api/me", alice.token, json=body).status_code == 200

    assert api.get("/api/tasks", token).status_code == 401
    assert [row["user_id"] for row in stored_tokens(app)] == [bob.id]


@pytest.mark.parametrize(
    "body",
    [
        {"current_password": PASSWORD, "revoke_api_tokens": True},
        {"current_password": PASSWORD, "email": "new@example.com", "revoke_api_tokens": True},
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "revoke_api_tokens": "yes"},
    ],
)
def test_revoke_api_tokens_needs_a_new_password_and_a_boolean(
    app: Flask, api: ApiClient, alice: Account, body: dict[str, Any]
) -> None:
    new_token(api, alice)

    problem = assert_problem(api.patch("/api/me", alice.token, json=body), 400)

    assert "revoke_api_tokens" in problem["errors"]
    assert len(stored_tokens(app)) == 1
    assert api.get("/api/me", alice.token).status_code == 200  # nothing changed


# Found by schemathesis (tests/test_fuzz.py).
def test_refusals_carry_only_members_the_document_declares(
    make_app: Any, spec: dict[str, Any]
) -> None:
    """The Problem schema closes its members (no additional properties): ``limit`` and
    ``required_scope`` must be among them."""
    api = ApiClient(make_app(MAX_API_TOKENS_PER_USER=1).test_client())
    alice = api.account("alice")
    reader = new_token(api, alice, scopes=["tasks:read"])["token"]
    problem = spec["components"]["schemas"]["Problem"]
    validator = jsonschema_rs.validator_for({**problem, "components": spec["components"]})

    over = api.post("/api/tokens", alice.token, json={"name": "x", "scopes": ["tasks:read"]})
    scope = api.post("/api/tasks", reader, json={"title": "x"})

    assert over.status_code == 409
    assert scope.status_code == 403
    assert validator.is_valid(over.json), over.json
    assert validator.is_valid(scope.json), scope.json
