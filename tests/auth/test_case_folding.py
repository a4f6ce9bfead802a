"""Usernames and emails compared "ignoring case" the same way on SQLite and PostgreSQL:
through Python's NFKC case folding, stored beside them, never the database's lower()."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from doable.auth.models import User
from doable.extensions import db
from tests.support.factories import PASSWORD, ApiClient, assert_problem

SAS_UPPER = "\u03a3\u0391\u03a3"  # capital sigma, alpha, sigma
SAS_FINAL = "\u03c3\u03b1\u03c2"  # small sigma, alpha, final sigma


def _register(api: ApiClient, username: str, email: str):
    body = {"username": username, "email": email, "password": PASSWORD}
    return api.client.post("/api/register", json=body)


def _stored(app: Flask) -> list[tuple[str, str, str, str]]:
    with app.app_context():
        query = select(User.username, User.username_key, User.email, User.email_key)
        return [tuple(row) for row in db.session.execute(query.order_by(User.id))]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("first", "second", "collide"),
    [
        # PostgreSQL's lower("İnfo") is "info"; folding gives "i" + combining dot.
        ("İnfo@x.org", "info@x.org", False),
        # PostgreSQL's lower() keeps a final sigma; folding makes it a plain one.
        (f"{SAS_UPPER}@x.org", f"{SAS_FINAL}@x.org", True),
        ("straße@x.org", "STRASSE@x.org", True),
    ],
)
def test_register_emails_collide_as_python_folds_them(
    api: ApiClient, app: Flask, first: str, second: str, collide: bool
) -> None:
    assert _register(api, "one", first).status_code == 201

    response = _register(api, "two", second)

    if collide:
        body = assert_problem(response, 409)
        assert body["errors"] == {"email": [f"Email '{second}' is already registered"]}
        assert [row[2] for row in _stored(app)] == [first]
    else:
        assert response.status_code == 201
        assert [row[2] for row in _stored(app)] == [first, second]


def test_register_stores_the_folded_keys(api: ApiClient, app: Flask) -> None:
    _register(api, "Alice", "İnfo@Example.ORG")

    assert _stored(app) == [("Alice", "alice", "İnfo@Example.ORG", "i\u0307nfo@example.org")]


@pytest.mark.parametrize(
    ("login", "status"),
    [("i\u0307nfo@x.org", 200), ("İNFO@X.ORG", 200), ("info@x.org", 401)],
)
def test_login_by_email_matches_the_folded_address(api: ApiClient, login: str, status: int) -> None:
    _register(api, "alice", "İnfo@x.org")

    response = api.login(email=login, password=PASSWORD)

    assert response.status_code == status, response.get_json()


def test_login_by_username_does_not_fold_a_dotted_capital_i_into_i(api: ApiClient) -> None:
    _register(api, "alice", "alice@x.org")

    response = api.login(username="ALİCE", password=PASSWORD)

    assert_problem(response, 401)


def test_patch_me_email_folding_onto_another_users_is_409(api: ApiClient, app: Flask) -> None:
    _register(api, "one", f"{SAS_UPPER}@x.org")
    account = api.account("two")

    response = api.patch(
        "/api/me", account.token, json={"email": f"{SAS_FINAL}@x.org", "current_password": PASSWORD}
    )

    assert_problem(response, 409)
    assert [row[2] for row in _stored(app)] == [f"{SAS_UPPER}@x.org", account.email]


def test_patch_me_email_keeps_the_key_in_step(api: ApiClient, app: Flask) -> None:
    account = api.account("two")

    response = api.patch(
        "/api/me", account.token, json={"email": "STRASSE@x.org", "current_password": PASSWORD}
    )

    assert response.status_code == 200
    assert _stored(app) == [("two", "two", "STRASSE@x.org", "strasse@x.org")]


def test_register_email_too_long_once_folded_is_400(api: ApiClient, app: Flask) -> None:
    email = "\ufdfa" * 20 + "@x.org"  # one ligature folds to 18 characters

    response = _register(api, "one", email)

    body = assert_problem(response, 400)
    assert body["errors"] == {"email": ["Longer than 320 characters once case is folded."]}
    assert _stored(app) == []


def test_share_by_email_finds_the_folded_address(api: ApiClient) -> None:
    _register(api, "bob", f"{SAS_UPPER}@x.org")
    alice = api.account("alice")
    task = api.post("/api/tasks", alice.token, json={"title": "Plan"}).get_json()

    response = api.post(
        f"/api/tasks/{task['id']}/share",
        alice.token,
        json={"email": f"{SAS_FINAL}@x.org", "permission": "view"},
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["user"]["username"] == "bob"
