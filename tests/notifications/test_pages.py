"""The notifications page and the unread count in every page's navigation."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask

from tests.notifications.test_api import notify
from tests.support.factories import Account
from tests.support.pages import Browser


def badge(html: str) -> str:
    found = re.search(r'<span class="badge" id="unread-count" data-unread="(\d+)"', html)
    assert found, "no unread count in the navigation"
    return found.group(1)


def test_every_page_shows_the_unread_count(
    app: Flask, alice: Account, browse: Callable[..., Browser]
) -> None:
    notify(app, alice, "first", "second")
    browser = browse(alice)

    assert badge(browser.get("/tasks").get_data(as_text=True)) == "2"
    assert badge(browser.get("/categories").get_data(as_text=True)) == "2"


def test_the_page_lists_them_and_marks_one_then_all_read(
    app: Flask, alice: Account, bob: Account, browse: Callable[..., Browser]
) -> None:
    first, _ = notify(app, alice, "Reminder: Standup", "Reminder: Pay rent")
    notify(app, bob, "Reminder: not yours")
    browser = browse(alice)

    page = browser.get("/notifications").get_data(as_text=True)
    assert page.index("Reminder: Pay rent") < page.index("Reminder: Standup")
    assert "not yours" not in page

    response = browser.post(f"/notifications/{first}/read", follow_redirects=True)
    assert response.status_code == 200
    assert badge(response.get_data(as_text=True)) == "1"

    response = browser.post("/notifications/read", follow_redirects=True)
    assert badge(response.get_data(as_text=True)) == "0"
    assert "Mark read" not in response.get_data(as_text=True)


def test_marking_another_users_notification_is_not_found(
    app: Flask, alice: Account, bob: Account, browse: Callable[..., Browser]
) -> None:
    [theirs] = notify(app, bob, "bob's")
    browser = browse(alice)

    assert browser.post(f"/notifications/{theirs}/read").status_code == 404
