"""The account page's "Calendar feed" section: make (the URL shown once, with a copy
field and a webcal:// link), replace, revoke; CSRF-checked like every form."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask

from tests.support.calendar_feed import new_feed, path_of, read_feed
from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser, input_value

FEED_URL = re.compile(r"http://localhost/api/calendar/dcal_[A-Za-z0-9_-]{43}\.ics")


def _make(browser: Browser) -> str:
    """Make the feed from the account page; the URL the answer shows."""
    made = browser.post("/account/calendar")
    assert made.status_code == 200, made.get_data(as_text=True)
    url = input_value(made, "feed-url")
    assert url is not None
    return url


def test_the_account_page_offers_to_make_a_feed(
    browse: Callable[..., Browser], alice: Account
) -> None:
    html = browse(alice).get("/account").get_data(as_text=True)

    assert "<h2>Calendar feed</h2>" in html
    assert 'action="/account/calendar"' in html
    assert "Make a feed URL" in html
    assert "/account/calendar/delete" not in html


def test_making_shows_the_url_once_with_a_copy_field_and_a_webcal_link(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    api.post("/api/tasks", alice.token, json={"title": "Rent", "due_date": "2026-12-01"})

    made = browser.post("/account/calendar")

    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    html = made.get_data(as_text=True)
    (url,) = set(FEED_URL.findall(html))
    assert input_value(made, "feed-url") == url
    assert 'data-copy="feed-url"' in html
    assert f'href="webcal{url.removeprefix("http")}"' in html
    assert "data-shown-once" in html
    (event,) = read_feed(api, url).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Rent"
    account = browser.get("/account").get_data(as_text=True)
    assert FEED_URL.search(account) is None
    prefix = path_of(url).removeprefix("/api/calendar/")[:13]
    assert f"<code>{prefix}…</code>" in account
    assert "Make a new URL" in account
    assert 'href="/account/calendar/delete"' in account


def test_making_a_new_one_from_the_page_ends_the_old_url(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    old = _make(browser)

    new = _make(browser)

    assert new != old
    assert api.client.get(path_of(old)).status_code == 404
    read_feed(api, new)


def test_revoke_asks_first_then_ends_the_url(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    url = _make(browser)

    asked = browser.get("/account/calendar/delete")
    revoked = browser.post("/account/calendar/delete")

    assert asked.status_code == 200
    assert "Revoke your calendar feed?" in asked.get_data(as_text=True)
    assert revoked.status_code == 302
    assert revoked.headers["Location"] == "/account"
    assert api.client.get(path_of(url)).status_code == 404
    account = browser.get("/account").get_data(as_text=True)
    assert "Calendar feed revoked" in account
    assert "Make a feed URL" in account


def test_revoke_without_a_feed_is_404(browse: Callable[..., Browser], alice: Account) -> None:
    browser = browse(alice)

    assert browser.get("/account/calendar/delete").status_code == 404
    assert browser.post("/account/calendar/delete").status_code == 404


def test_a_form_without_its_csrf_token_changes_nothing(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    made = new_feed(api, alice)

    forged_make = browser.client.post("/account/calendar")
    forged_revoke = browser.client.post("/account/calendar/delete")

    assert forged_make.status_code == 400
    assert forged_revoke.status_code == 400
    assert FEED_URL.search(forged_make.get_data(as_text=True)) is None
    read_feed(api, made["url"])
    assert api.get("/api/calendar/feed", alice.token).json["prefix"] == made["prefix"]


def test_the_pages_need_a_login(browse: Callable[..., Browser]) -> None:
    browser = browse()

    for response in (
        browser.post("/account/calendar"),
        browser.get("/account/calendar/delete"),
        browser.post("/account/calendar/delete"),
    ):
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
