"""The time zone on the web: the browser's zone taken at sign-up, and the account page's
"Time and reminders" form (the same rules and messages as PATCH /api/me)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from tests.support.factories import PASSWORD, Account
from tests.support.pages import Browser, field_errors, input_value

NEW_USER = {
    "username": "dana",
    "email": "dana@example.com",
    "password": PASSWORD,
    "confirm": PASSWORD,
}
SAVED = {"timezone": "Asia/Kolkata", "remind_in_app": "y", "digest_at": ""}


def _settings(app: Flask, username: str) -> tuple[str, bool, bool] | None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        return None if user is None else (user.timezone, user.remind_in_app, user.remind_by_email)


def _selected_zone(html: str) -> list[str]:
    return re.findall(r'<option selected value="([^"]+)"', html)


# --- sign-up ----------------------------------------------------------------------------


def test_register_page_has_the_hidden_zone_field_and_the_script_that_fills_it(
    browse: Callable[..., Browser],
) -> None:
    html = browse().get("/register").get_data(as_text=True)

    assert re.search(r'<input data-browser-timezone[^>]*type="hidden"', html)
    assert '<script src="/static/timezone.js" defer></script>' in html


def test_register_with_the_browsers_zone_keeps_it(
    app: Flask, browse: Callable[..., Browser]
) -> None:
    response = browse().post("/register", {**NEW_USER, "timezone": "America/Los_Angeles"})

    assert response.status_code == 302
    assert _settings(app, "dana") == ("America/Los_Angeles", True, True)


@pytest.mark.parametrize("zone", ["", "Mars/Olympus_Mons", "x" * 200])
def test_register_with_no_or_an_unknown_zone_starts_on_utc(
    app: Flask, browse: Callable[..., Browser], zone: str
) -> None:
    response = browse().post("/register", {**NEW_USER, "timezone": zone})

    assert response.status_code == 302
    assert _settings(app, "dana") == ("UTC", True, True)


# --- the account page -------------------------------------------------------------------


def test_account_page_shows_the_time_form_with_the_current_settings(
    browse: Callable[..., Browser], alice: Account
) -> None:
    page = browse(alice).get("/account")
    html = page.get_data(as_text=True)

    assert "Time and reminders" in html
    assert _selected_zone(html) == ["UTC"]
    assert '<optgroup label="Europe">' in html
    assert re.search(r'<input checked id="remind_in_app"', html)
    assert re.search(r'<input checked id="remind_by_email"', html)
    assert re.search(r'<input[^>]*id="digest_at"[^>]*type="time"', html)
    assert input_value(page, "digest_at") == ""


def test_account_time_form_saves_without_a_password(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    response = browser.post("/account/time", SAVED)

    assert response.status_code == 302
    assert response.location == "/account"
    assert _settings(app, "alice") == ("Asia/Kolkata", True, False)
    page = browser.get("/account").get_data(as_text=True)
    assert "Your time and reminder settings are saved." in page
    assert _selected_zone(page) == ["Asia/Kolkata"]


@pytest.mark.parametrize(
    ("changed", "field", "message"),
    [
        (
            {"timezone": "Europe/Atlantis"},
            "timezone",
            "Must be an IANA time zone name such as Europe/Berlin.",
        ),
        ({"timezone": ""}, "timezone", "Must be an IANA time zone name such as Europe/Berlin."),
        (
            {"digest_at": "25:00"},
            "digest_at",
            "Must be a time of day as HH:MM (24-hour), e.g. 09:30.",
        ),
        (
            {"digest_at": "7 am"},
            "digest_at",
            "Must be a time of day as HH:MM (24-hour), e.g. 09:30.",
        ),
    ],
)
def test_account_time_form_bad_value_shows_the_apis_message_by_the_field(
    app: Flask,
    browse: Callable[..., Browser],
    alice: Account,
    changed: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = browse(alice).post("/account/time", {**SAVED, **changed})

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert field_errors(response, field) == [message]
    assert _settings(app, "alice") == ("UTC", True, True)


def test_account_time_form_signed_out_redirects_to_login(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse()
    token_page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', token_page)
    assert token is not None

    response = browser.client.post("/account/time", data={"csrf_token": token[1], **SAVED})

    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert _settings(app, "alice") == ("UTC", True, True)


def test_account_time_form_digest_time_is_saved_and_shown(
    browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    response = browser.post("/account/time", {**SAVED, "digest_at": "07:30"})

    assert response.status_code == 302
    assert input_value(browser.get("/account"), "digest_at") == "07:30"
