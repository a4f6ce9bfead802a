"""The API tokens page in a real browser: the copy button (a static script, allowed by
the page's CSP) copies the token shown once; without JavaScript the page still works;
it fits a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.slow
TOKEN = re.compile(r"^dbl_[A-Za-z0-9]{40}$")


def _create(page: Any, base: str, name: str = "backup") -> str:
    page.goto(f"{base}/account/tokens")
    page.get_by_label("Name").fill(name)
    page.get_by_label(re.compile(r"^tasks:read")).check()
    page.get_by_role("button", name="Create token").click()
    token: str = page.get_by_label("The new API token").input_value()
    assert TOKEN.match(token)
    return token


def test_the_copy_button_copies_the_token_shown_once(visitors: Any) -> None:
    person = visitors()
    person.context.grant_permissions(["clipboard-read", "clipboard-write"])
    person.register()
    page = person.page

    token = _create(page, person.base)
    page.get_by_role("button", name="Copy").click()

    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == token
    answer = requests.get(
        f"{person.base}/api/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert answer.status_code == 200
    page.reload()  # a visit (the script replaced the POST's entry): nothing is sent again
    assert page.get_by_label("The new API token").count() == 0
    assert page.locator(".token-row").count() == 1


def test_without_javascript_the_token_is_shown_and_no_dead_button(visitors: Any) -> None:
    person = visitors(java_script_enabled=False)
    person.register()

    _create(person.page, person.base)

    assert person.page.get_by_role("button", name="Copy").count() == 0  # hidden


def test_revoking_from_the_page(visitors: Any) -> None:
    person = visitors()
    person.register()
    page = person.page
    token = _create(page, person.base, name="old script")

    page.get_by_role("link", name="Revoke…").click()
    page.get_by_role("button", name="Revoke token").click()

    page.wait_for_url(re.compile(r"/account/tokens$"))
    assert page.get_by_text("No API tokens yet.").is_visible()
    answer = requests.get(
        f"{person.base}/api/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert answer.status_code == 401


def test_the_page_fits_a_375px_wide_screen(visitors: Any) -> None:
    phone = visitors(viewport={"width": 375, "height": 740})
    phone.register()
    _create(phone.page, phone.base, name="a rather long name for a token " * 3)

    widths = phone.page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )

    assert widths[0] <= widths[1], f"/account/tokens scrolls sideways: {widths}"
