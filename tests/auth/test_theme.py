"""The pages' colour theme, remembered per user: ``theme`` on GET/PATCH /api/me, the
account page's "Appearance" form and the header's switch (a form that comes back to the
page it was sent from), and ``data-theme`` on every page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.pages import Browser, field_errors

THEME_ERROR = "Must be one of: system, light, dark."


def _theme(app: Flask, user_id: int) -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return user.theme


def _html_theme(html: str) -> str | None:
    match = re.search(r'<html lang="en" data-theme="([^"]*)">', html)
    return match.group(1) if match else None


# --- the API ----------------------------------------------------------------------------


def test_get_me_shows_the_system_theme_of_a_new_account(api: ApiClient, alice: Account) -> None:
    assert api.get("/api/me", alice.token).get_json()["theme"] == "system"


def test_patch_me_theme_without_current_password_changes_it(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    response = api.patch("/api/me", alice.token, json={"theme": "dark"})

    assert response.status_code == 200
    assert response.get_json()["theme"] == "dark"
    assert _theme(app, alice.id) == "dark"


@pytest.mark.parametrize("value", ["blue", "", "Dark", None, 1, ["dark"]])
def test_patch_me_bad_theme_returns_400_naming_it(
    api: ApiClient, app: Flask, alice: Account, value: Any
) -> None:
    response = api.patch("/api/me", alice.token, json={"theme": value})

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"theme"}
    assert _theme(app, alice.id) == "system"


# --- the account page -------------------------------------------------------------------


def test_account_page_offers_the_three_themes_with_the_current_one_checked(
    browse: Callable[..., Browser], alice: Account
) -> None:
    html = browse(alice).get("/account").get_data(as_text=True)

    assert "<h2>Appearance</h2>" in html
    radios = re.findall(
        r'<input( checked)? id="theme-\d" name="theme" type="radio" value="(\w+)"', html
    )
    assert radios == [(" checked", "system"), ("", "light"), ("", "dark")]


def test_account_theme_form_saves_it_and_every_page_renders_it(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    response = browser.post("/account/theme", {"theme": "dark"})

    assert response.status_code == 302
    assert response.location == "/account#appearance"
    assert _theme(app, alice.id) == "dark"
    page = browser.get("/tasks").get_data(as_text=True)
    assert _html_theme(page) == "dark"
    assert '<option value="dark" selected>Dark</option>' in page  # the header's switch


def test_the_switchs_script_asking_for_json_is_answered_204_once_saved(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post(
        "/account/theme", {"theme": "dark"}, headers={"Accept": "application/json"}
    )

    assert response.status_code == 204
    assert _theme(app, alice.id) == "dark"


def test_the_switchs_script_signed_out_is_sent_to_log_in_not_told_saved(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse().post(
        "/account/theme", {"theme": "dark"}, headers={"Accept": "application/json"}
    )

    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert _theme(app, alice.id) == "system"


@pytest.mark.parametrize("value", ["blue", "", "DARK"])
def test_account_theme_form_with_a_bad_value_is_a_400_page_naming_the_field(
    app: Flask, browse: Callable[..., Browser], alice: Account, value: str
) -> None:
    response = browse(alice).post("/account/theme", {"theme": value})

    assert response.status_code == 400
    assert field_errors(response, "theme") == [THEME_ERROR]
    assert _theme(app, alice.id) == "system"


def test_theme_form_without_the_csrf_token_is_refused(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).client.post("/account/theme", data={"theme": "dark"})

    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert _theme(app, alice.id) == "system"


def test_theme_form_signed_out_saves_nothing(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse().post("/account/theme", {"theme": "dark"})

    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert _theme(app, alice.id) == "system"


# --- the header's switch ----------------------------------------------------------------


def test_every_signed_in_page_has_the_header_switch_and_its_script(
    browse: Callable[..., Browser], alice: Account
) -> None:
    html = browse(alice).get("/categories?page=1").get_data(as_text=True)

    assert _html_theme(html) == "system"
    form = re.search(
        r'<form method="post" action="/account/theme"[^>]*id="theme-switch">(.*?)</form>',
        html,
        re.S,
    )
    assert form is not None
    assert '<input type="hidden" name="next" value="/categories?page=1">' in form.group(1)
    assert '<option value="system" selected>System</option>' in form.group(1)
    assert '<script type="module" src="/static/theme.js"></script>' in html


def test_signed_out_pages_follow_the_system_and_have_no_switch(
    browse: Callable[..., Browser],
) -> None:
    html = browse().get("/login").get_data(as_text=True)

    assert _html_theme(html) == "system"
    assert "theme-switch" not in html


def test_header_switch_goes_back_to_the_page_it_was_on(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post(
        "/account/theme", {"theme": "light", "next": "/tasks?status=pending&page=2"}
    )

    assert response.status_code == 302
    assert response.location == "/tasks?status=pending&page=2"
    assert _theme(app, alice.id) == "light"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/tasks", "/\\evil.example", "tasks"]
)
def test_header_switch_never_goes_to_another_site(
    app: Flask, browse: Callable[..., Browser], alice: Account, target: str
) -> None:
    response = browse(alice).post("/account/theme", {"theme": "light", "next": target})

    assert response.status_code == 302
    assert response.location == "/account#appearance"
    assert _theme(app, alice.id) == "light"
