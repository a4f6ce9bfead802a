"""The API tokens page (/account/tokens): create (shown once), list, revoke; and the
account page's "revoke my API tokens" option."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask

from tests.support.api_tokens import new_token, stored_tokens
from tests.support.factories import NEW_PASSWORD, PASSWORD, Account, ApiClient
from tests.support.pages import Browser, field_errors

TOKEN = re.compile(r"dbl_[A-Za-z0-9]{40}")


def _create(browser: Browser, **fields: object) -> object:
    form = {"name": "backup", "scopes": ["tasks:read", "events:read"], "lifetime": "30"}
    return browser.post("/account/tokens", {**form, **fields})


def test_the_account_page_links_to_the_tokens_page(
    browse: Callable[..., Browser], alice: Account
) -> None:
    html = browse(alice).get("/account").get_data(as_text=True)

    assert 'href="/account/tokens"' in html
    assert 'name="revoke_api_tokens"' in html


def test_the_page_needs_a_login(browse: Callable[..., Browser]) -> None:
    response = browse().get("/account/tokens")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_create_shows_the_token_once_with_a_copy_button(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    created = _create(browser)

    assert created.status_code == 200
    html = created.get_data(as_text=True)
    (token,) = set(TOKEN.findall(html))
    assert 'data-copy="new-token"' in html
    assert "/static/api_tokens.js" in html
    assert created.headers["Cache-Control"] == "no-store"
    assert api.get("/api/tasks", token).status_code == 200
    assert api.post("/api/tasks", token, json={"title": "x"}).status_code == 403
    (row,) = stored_tokens(app, alice.id)
    assert row["name"] == "backup"
    assert row["scopes"] == ["tasks:read", "events:read"]
    assert row["expires_at"] is not None
    again = browser.get("/account/tokens").get_data(as_text=True)
    assert TOKEN.search(again) is None
    assert row["prefix"] in again
    assert "backup" in again


def test_create_that_never_expires(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    assert _create(browse(alice), lifetime="").status_code == 200

    assert stored_tokens(app)[0]["expires_at"] is None


def test_create_with_bad_input_shows_errors_by_the_fields_and_keeps_nothing(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = _create(browse(alice), name="", scopes=[], lifetime="tomorrow")

    assert response.status_code == 400
    assert field_errors(response, "name")
    assert field_errors(response, "scopes")
    assert field_errors(response, "lifetime")
    assert TOKEN.search(response.get_data(as_text=True)) is None
    assert stored_tokens(app) == []


def test_a_lifetime_of_digits_that_are_not_ascii_is_refused_by_the_field(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = _create(browse(alice), lifetime="²")  # str.isdigit() says yes, int() no

    assert response.status_code == 400
    assert field_errors(response, "lifetime")
    assert stored_tokens(app) == []


def test_create_beyond_the_limit_says_so(
    make_app: Callable[..., Flask], browse: Callable[..., Browser]
) -> None:
    app = make_app(MAX_API_TOKENS_PER_USER=1)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    browser = Browser(app.test_client())
    browser.login(alice)
    assert _create(browser).status_code == 200

    refused = _create(browser)

    assert refused.status_code == 400
    assert "At most 1 API tokens per user" in refused.get_data(as_text=True)
    assert len(stored_tokens(app)) == 1


def test_the_list_shows_your_tokens_only(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    mine = new_token(api, alice, name="mine")
    theirs = new_token(api, bob, name="theirs")

    html = browse(alice).get("/account/tokens").get_data(as_text=True)

    assert mine["prefix"] in html
    assert "mine" in html
    assert theirs["prefix"] not in html
    assert "theirs" not in html


def test_revoke_asks_then_deletes_and_the_token_stops_working(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    created = new_token(api, alice, name="old script")
    browser = browse(alice)
    path = f"/account/tokens/{created['id']}/delete"

    question = browser.get(path).get_data(as_text=True)
    assert "Revoke the API token “old script”?" in question
    assert stored_tokens(app) != []
    done = browser.post(path)

    assert done.status_code == 302
    assert stored_tokens(app) == []
    assert api.get("/api/tasks", created["token"]).status_code == 401


def test_revoke_without_the_csrf_token_is_refused(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    created = new_token(api, alice)

    forged = browse(alice).client.post(f"/account/tokens/{created['id']}/delete", data={})

    assert forged.status_code == 400
    assert len(stored_tokens(app)) == 1


def test_create_without_the_csrf_token_is_refused(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    forged = browse(alice).client.post(
        "/account/tokens", data={"name": "x", "scopes": ["tasks:read"], "lifetime": ""}
    )

    assert forged.status_code == 400
    assert stored_tokens(app) == []


def test_someone_else_s_token_is_a_404_page(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    theirs = new_token(api, bob)
    browser = browse(alice)
    path = f"/account/tokens/{theirs['id']}/delete"

    assert browser.get(path).status_code == 404
    assert browser.post(path).status_code == 404
    assert len(stored_tokens(app)) == 1


def test_a_password_change_on_the_account_page_keeps_tokens_unless_ticked(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    token = new_token(api, alice)["token"]
    browser = browse(alice)
    change = {"email": alice.email, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}

    kept = browser.post("/account", {**change, "current_password": PASSWORD})
    assert kept.status_code == 302
    assert api.get("/api/tasks", token).status_code == 200

    back = {"email": alice.email, "password": PASSWORD, "confirm": PASSWORD}
    revoked = browser.post(
        "/account", {**back, "current_password": NEW_PASSWORD, "revoke_api_tokens": "y"}
    )
    assert revoked.status_code == 302
    assert api.get("/api/tasks", token).status_code == 401
    assert stored_tokens(app) == []


def test_ticking_revoke_without_a_new_password_says_why(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    new_token(api, alice)

    response = browse(alice).post(
        "/account",
        {"email": alice.email, "current_password": PASSWORD, "revoke_api_tokens": "y"},
    )

    assert response.status_code == 400
    assert field_errors(response, "revoke_api_tokens") == ["Only with a new password."]
    assert len(stored_tokens(app)) == 1
