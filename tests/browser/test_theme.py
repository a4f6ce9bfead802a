"""Dark mode in a real browser: "system" follows the emulated colour scheme, and the
header's switch applies a theme at once (static/theme.js) and keeps it after a reload."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.support.factories import PASSWORD
from tests.web.test_contrast import themes

pytestmark = pytest.mark.slow


def _rgb(colour: str) -> str:
    """``#12141c`` as computed styles write it: ``rgb(18, 20, 28)``."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_system_theme_follows_a_dark_browser_and_the_header_switch_keeps_light(
    visitors: Any,
) -> None:
    colours = themes()
    visitor = visitors(color_scheme="dark")
    page = visitor.page
    name = visitor.register()
    body = page.locator("body")

    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    expect(body).to_have_css("background-color", _rgb(colours["dark"]["bg"]))

    with page.expect_response(lambda r: r.url.endswith("/account/theme")) as saved:
        page.locator("#theme-choice").select_option("light")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(body).to_have_css("background-color", _rgb(colours["light"]["bg"]))
    assert saved.value.status == 204
    expect(page.locator("#announcer")).to_have_text("Light theme")

    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(body).to_have_css("background-color", _rgb(colours["light"]["bg"]))
    expect(page.locator("#theme-choice")).to_have_value("light")

    assert visitor.problems == []

    # Signed out (the account deleted elsewhere): the answer is the way to the login
    # page, never taken for "saved".
    token = requests.post(
        f"{visitor.base}/api/login", json={"username": name, "password": PASSWORD}, timeout=10
    ).json()["token"]
    requests.delete(
        f"{visitor.base}/api/me",
        json={"current_password": PASSWORD},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).raise_for_status()
    with page.expect_response(lambda r: r.url.endswith("/account/theme")) as refused:
        page.locator("#theme-choice").select_option("dark")
    assert refused.value.status == 302
    expect(page.locator("#announcer")).to_have_text(re.compile("^You are signed out"))
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(page.locator("#theme-choice")).to_have_value("light")
    assert visitor.problems == []
