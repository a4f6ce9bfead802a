"""Account pages: register, log in and out, the session cookie, the account page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.auth.models import AuthSession, User
from doable.extensions import db
from tests.support.factories import PASSWORD, Account, ApiClient
from tests.support.pages import Browser, csrf_token, field_errors, input_value

NEW_USER = {
    "username": "dana",
    "email": "dana@example.com",
    "password": PASSWORD,
    "confirm": PASSWORD,
}


def _users(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (u.username, u.email) for u in db.session.scalars(sa.select(User).order_by(User.id))
        ]


def _live_sessions(app: Flask, user_id: int) -> list[str]:
    with app.app_context():
        query = sa.select(AuthSession.id).where(
            AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
        )
        return list(db.session.scalars(query))


# --- the front door ---------------------------------------------------------------------


def test_index_signed_out_redirects_to_login(browse: Callable[..., Browser]) -> None:
    response = browse().get("/")

    assert response.status_code == 302
    assert response.location == "/login"


def test_index_signed_in_redirects_to_tasks(browse: Callable[..., Browser], alice: Account) -> None:
    response = browse(alice).get("/")

    assert response.status_code == 302
    assert response.location == "/tasks"


@pytest.mark.parametrize(
    "path", ["/tasks?status=pending", "/tasks/new", "/tasks/1", "/categories", "/account"]
)
def test_page_signed_out_redirects_to_login_with_next(
    browse: Callable[..., Browser], path: str
) -> None:
    response = browse().get(path)

    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [path]}


# --- register ---------------------------------------------------------------------------


def test_register_valid_form_creates_user_and_signs_in(
    app: Flask, browse: Callable[..., Browser]
) -> None:
    browser = browse()

    response = browser.post("/register", NEW_USER)

    assert response.status_code == 302
    assert response.location == "/tasks"
    assert _users(app) == [("dana", "dana@example.com")]
    session = browser.session()
    assert session["user_id"] == 1
    assert _live_sessions(app, 1) == [session["auth_session_id"]]
    page = browser.get("/tasks")
    assert page.status_code == 200
    assert "Welcome, dana!" in page.get_data(as_text=True)


def test_register_invalid_fields_shows_each_error_by_its_field_and_keeps_values(
    app: Flask, browse: Callable[..., Browser]
) -> None:
    form = {"username": "d", "email": "not-an-email", "password": "short", "confirm": "short"}

    response = browse().post("/register", form)

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert field_errors(response, "username") == ["Length must be between 3 and 32."]
    assert field_errors(response, "email") == ["Not a valid email address."]
    assert field_errors(response, "password") == ["Length must be between 8 and 128."]
    assert input_value(response, "username") == "d"
    assert input_value(response, "email") == "not-an-email"
    assert input_value(response, "password") == ""  # never sent back
    assert _users(app) == []


def test_register_different_repeated_password_shows_error_and_creates_nobody(
    app: Flask, browse: Callable[..., Browser]
) -> None:
    response = browse().post("/register", {**NEW_USER, "confirm": "something else"})

    assert response.status_code == 400
    assert field_errors(response, "confirm") == ["The passwords do not match."]
    assert _users(app) == []


@pytest.mark.parametrize(
    ("changed", "field"),
    [({"username": "ALICE"}, "username"), ({"email": "Alice@Example.com"}, "email")],
)
def test_register_taken_name_shows_conflict_next_to_the_field(
    app: Flask, browse: Callable[..., Browser], alice: Account, changed: dict[str, str], field: str
) -> None:
    response = browse().post("/register", {**NEW_USER, **changed})

    assert response.status_code == 400
    assert "already" in " ".join(field_errors(response, field))
    assert len(_users(app)) == 1


# --- log in and out ---------------------------------------------------------------------


@pytest.mark.parametrize("login", ["alice", "ALICE@example.com"])
def test_login_with_username_or_email_opens_a_session(
    app: Flask, browse: Callable[..., Browser], alice: Account, login: str
) -> None:
    browser = browse()

    response = browser.post("/login", {"login": login, "password": PASSWORD})

    assert response.status_code == 302
    assert response.location == "/tasks"
    session = browser.session()
    assert session["user_id"] == alice.id
    assert session["auth_session_id"] in _live_sessions(app, alice.id)


def test_login_wrong_password_shows_error_and_keeps_the_login(
    browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse()

    response = browser.post("/login", {"login": "alice", "password": "wrong password"})

    assert response.status_code == 400
    assert "Invalid credentials" in response.get_data(as_text=True)
    assert input_value(response, "login") == "alice"
    assert "user_id" not in browser.session()


def test_login_unknown_user_gets_the_same_message(browse: Callable[..., Browser]) -> None:
    response = browse().post("/login", {"login": "nobody", "password": "wrong password"})

    assert response.status_code == 400
    assert "Invalid credentials" in response.get_data(as_text=True)


def test_login_replaces_the_session_cookie_contents(
    browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse()
    with browser.client.session_transaction() as session:
        session["planted"] = "by an attacker"

    browser.login(alice)

    assert "planted" not in browser.session()


def test_login_with_local_next_goes_there(browse: Callable[..., Browser], alice: Account) -> None:
    response = browse().post("/login?next=/tasks/new", {"login": "alice", "password": PASSWORD})

    assert response.location == "/tasks/new"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example", "tasks"],
)
def test_login_with_foreign_next_goes_to_tasks(
    browse: Callable[..., Browser], alice: Account, target: str
) -> None:
    browser = browse()
    response = browser.client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": browser.token(), "login": "alice", "password": PASSWORD},
    )

    assert response.location == "/tasks"


def test_session_cookie_is_httponly_and_samesite_lax(
    browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse().login(alice)

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_over_https_is_secure(app: Flask, alice: Account) -> None:
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")

    response = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "login": "alice",
            "password": PASSWORD,
        },
    )

    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_logout_post_revokes_the_login_and_clears_the_cookie(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    login_id = browser.session()["auth_session_id"]

    response = browser.post("/logout")

    assert response.status_code == 302
    assert response.location == "/login"
    assert login_id not in _live_sessions(app, alice.id)
    assert "user_id" not in browser.session()
    assert browser.get("/tasks").status_code == 302


def test_logout_get_asks_for_confirmation_and_keeps_the_login(
    browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    response = browser.get("/logout")

    assert response.status_code == 200
    assert "Log out?" in response.get_data(as_text=True)
    assert browser.get("/tasks").status_code == 200


def test_revoked_login_is_signed_out_on_the_next_page(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    api.patch(
        "/api/me", alice.token, json={"current_password": PASSWORD, "password": "a new passphrase"}
    )

    response = browser.get("/tasks")

    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert "user_id" not in browser.session()


def test_login_over_the_auth_limit_is_429_page_and_shares_the_api_bucket(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="2 per minute")
    browser = Browser(app.test_client())
    for _ in range(3):  # page views do not count
        assert browser.get("/login").status_code == 200
    browser.client.post("/api/login", json={"username": "nobody", "password": "wrong password"})
    second = browser.post("/login", {"login": "nobody", "password": "wrong password"})

    third = browser.post("/login", {"login": "nobody", "password": "wrong password"})

    assert second.status_code == 400
    assert third.status_code == 429
    assert third.mimetype == "text/html"
    assert "Too many attempts" in third.get_data(as_text=True)
    assert int(third.headers["Retry-After"]) > 0


# --- the account page -------------------------------------------------------------------


def test_account_change_email_saves_it(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post(
        "/account", {"email": "alice@new.example", "current_password": PASSWORD}
    )

    assert response.status_code == 302
    assert _users(app) == [("alice", "alice@new.example")]


def test_account_wrong_current_password_shows_error_by_the_field_and_keeps_email(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post(
        "/account", {"email": "alice@new.example", "current_password": "not my password"}
    )

    assert response.status_code == 400
    assert field_errors(response, "current_password") == ["Current password is incorrect."]
    assert input_value(response, "email") == "alice@new.example"
    assert _users(app) == [("alice", "alice@example.com")]


def test_account_email_of_another_user_shows_conflict_by_the_field(
    app: Flask, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    response = browse(alice).post(
        "/account", {"email": "BOB@example.com", "current_password": PASSWORD}
    )

    assert response.status_code == 400
    assert field_errors(response, "email") == ["Email 'BOB@example.com' is already registered"]


def test_account_new_password_keeps_this_browser_signed_in_and_ends_other_logins(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    before = browser.session()["auth_session_id"]
    form = {
        "password": "a new passphrase",
        "confirm": "a new passphrase",
        "current_password": PASSWORD,
    }

    response = browser.post("/account", {"email": alice.email, **form})

    assert response.status_code == 302
    assert browser.get("/tasks").status_code == 200
    now = browser.session()["auth_session_id"]
    assert now != before
    assert _live_sessions(app, alice.id) == [now]
    assert api.get("/api/me", alice.token).status_code == 401
    assert api.login(username="alice", password="a new passphrase").status_code == 200


def test_account_nothing_changed_changes_nothing(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    response = browser.post("/account", {"email": alice.email, "current_password": "whatever"})

    assert response.status_code == 302
    assert "Nothing to change." in browser.get("/account").get_data(as_text=True)


def test_delete_account_without_ticking_the_box_keeps_it(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post("/account/delete", {"current_password": alice.password})

    assert response.status_code == 400
    assert field_errors(response, "confirm") == ["Tick the box to confirm."]
    assert _users(app) == [("alice", "alice@example.com")]


def test_delete_account_with_wrong_current_password_keeps_it(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    response = browser.post("/account/delete", {"confirm": "y", "current_password": "not mine"})

    assert response.status_code == 400
    assert field_errors(response, "current_password") == ["Current password is incorrect."]
    assert _users(app) == [("alice", "alice@example.com")]
    assert _live_sessions(app, alice.id) != []
    assert "user_id" in browser.session()


def test_delete_account_without_current_password_keeps_it(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post("/account/delete", {"confirm": "y"})

    assert response.status_code == 400
    assert field_errors(response, "current_password") == ["Current password is incorrect."]
    assert _users(app) == [("alice", "alice@example.com")]


def test_delete_account_confirmed_deletes_user_and_signs_out(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    response = browser.post("/account/delete", {"confirm": "y", "current_password": alice.password})

    assert response.status_code == 302
    assert response.location == "/login"
    assert _users(app) == []
    assert "user_id" not in browser.session()
