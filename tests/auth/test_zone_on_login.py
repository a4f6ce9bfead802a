"""The browser's zone until the account has one: sign-up, the account page and PATCH
/api/me choose a zone; an account that never chose one (registered through the API
without a zone) adopts the zone its browser reports at a web login, once, moving its
reminders as any change of zone does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from tests.changes.feeds import new_task
from tests.support.factories import PASSWORD, Account, ApiClient
from tests.support.pages import Browser
from tests.support.reminders import reminders, schedule

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


def _zone(app: Flask, user_id: int) -> tuple[str, bool]:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return user.timezone, user.zone_chosen


def _zone_of(app: Flask, username: str) -> tuple[str, bool]:
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.username == username)).one()
        return user.timezone, user.zone_chosen


def _web_login(browser: Browser, account: Account, zone: str) -> int:
    form = {"login": account.username, "password": account.password, "timezone": zone}
    return browser.post("/login", form).status_code


def test_login_page_has_the_hidden_zone_field_and_the_script_that_fills_it(
    browse: Callable[..., Browser],
) -> None:
    html = browse().get("/login").get_data(as_text=True)

    assert '<input data-browser-timezone id="timezone" name="timezone" type="hidden"' in html
    assert '<script src="/static/timezone.js" defer></script>' in html


def test_api_registration_without_a_zone_has_not_chosen_one(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    assert _zone(app, alice.id) == ("UTC", False)


def test_api_registration_with_a_zone_has_chosen_it(app: Flask, api: ApiClient) -> None:
    user_id = api.register("dana", timezone="UTC").get_json()["user_id"]

    assert _zone(app, user_id) == ("UTC", True)


def test_web_login_of_an_account_without_a_zone_adopts_the_browsers(
    app: Flask, browse: Callable[..., Browser], api: ApiClient, alice: Account
) -> None:
    assert _web_login(browse(), alice, "Asia/Kolkata") == 302

    assert _zone(app, alice.id) == ("Asia/Kolkata", True)
    assert api.get("/api/me", alice.token).get_json()["timezone"] == "Asia/Kolkata"


def test_the_zone_is_adopted_once_then_kept(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    _web_login(browse(), alice, "Asia/Kolkata")

    assert _web_login(browse(), alice, "America/Chicago") == 302

    assert _zone(app, alice.id) == ("Asia/Kolkata", True)


def test_web_login_keeps_a_zone_chosen_through_the_api(
    app: Flask, browse: Callable[..., Browser], api: ApiClient, alice: Account
) -> None:
    api.patch("/api/me", alice.token, json={"timezone": "UTC"})  # chosen, though unchanged

    assert _web_login(browse(), alice, "Asia/Kolkata") == 302

    assert _zone(app, alice.id) == ("UTC", True)


def test_web_login_keeps_a_zone_chosen_on_the_account_page(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browse(alice).post("/account/time", {"timezone": "Europe/Berlin", "remind_in_app": "y"})

    assert _web_login(browse(), alice, "Asia/Kolkata") == 302

    assert _zone(app, alice.id) == ("Europe/Berlin", True)


def test_web_sign_up_in_the_browsers_zone_has_chosen_it(
    app: Flask, browse: Callable[..., Browser]
) -> None:
    form = {"username": "dana", "email": "dana@example.com", "password": PASSWORD}
    browse().post("/register", {**form, "confirm": PASSWORD, "timezone": "Asia/Tokyo"})

    assert _zone_of(app, "dana") == ("Asia/Tokyo", True)


@pytest.mark.parametrize("zone", ["", "Mars/Olympus_Mons", "asia/kolkata", "x" * 200])
def test_web_login_ignores_an_unknown_browser_zone(
    app: Flask, browse: Callable[..., Browser], alice: Account, zone: str
) -> None:
    assert _web_login(browse(), alice, zone) == 302

    assert _zone(app, alice.id) == ("UTC", False)


def test_a_failed_login_adopts_nothing(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    form = {"login": alice.username, "password": "wrong password", "timezone": "Asia/Kolkata"}

    assert browse().post("/login", form).status_code == 400

    assert _zone(app, alice.id) == ("UTC", False)


def test_an_adopted_zone_moves_the_accounts_reminders(
    app: Flask, browse: Callable[..., Browser], api: ApiClient, alice: Account
) -> None:
    task_id = new_task(api, alice)
    with time_machine.travel(NOW):
        schedule(
            app,
            task_id,
            due_date=date(2026, 3, 30),
            due_time=time(9),
            reminders=[{"before_due": "PT1M"}],
        )
        assert [r.fire_at for r in reminders(app)] == [datetime(2026, 3, 30, 8, 59, tzinfo=UTC)]

        _web_login(browse(), alice, "Asia/Kolkata")

    # 09:00 in Kolkata (+05:30) is 03:30 UTC.
    assert [r.fire_at for r in reminders(app)] == [datetime(2026, 3, 30, 3, 29, tzinfo=UTC)]
