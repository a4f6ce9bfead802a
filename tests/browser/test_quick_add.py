"""Quick add in a real browser: typing previews the parts (static/tasks/quick_add.js),
Enter adds the task and the list shows it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_typing_previews_and_enter_adds_the_task(visitors: Any) -> None:
    alice = visitors()
    page = alice.page
    alice.register()
    field = page.get_by_label("Quick add")
    preview = page.locator("#quick-preview")

    field.press_sequentially("Pay rent tomorrow 9am #home !high")

    expect(preview.locator('[data-part="title"]')).to_have_text("Pay rent")
    expect(preview.locator('[data-part="due"] time')).to_contain_text("at 09:00")
    expect(preview.locator('[data-part="categories"]')).to_have_text("home")
    expect(preview.locator('[data-part="priority"]')).to_have_text("High")
    # The preview is not read out at every pause; one sentence is, once typing rests.
    assert preview.get_attribute("aria-live") is None
    announcer = page.locator("#announcer")
    expect(announcer).to_have_text(
        re.compile(r"^Would add “Pay rent”, due .+ at 09:00, #home, high priority$")
    )

    with page.expect_navigation():
        field.press("Enter")

    expect(page.get_by_text("Task “Pay rent” added.")).to_be_visible()
    row = page.locator("#task-list > .task-row")
    expect(row).to_have_count(1)
    expect(row.locator("a.task-title")).to_have_text("Pay rent")
    expect(row).to_contain_text("home")
    expect(field).to_have_value("")
    assert alice.problems == []


def test_an_expired_session_clears_the_preview_instead_of_showing_the_login_page(
    visitors: Any,
) -> None:
    alice = visitors()
    page = alice.page
    alice.register()
    field = page.get_by_label("Quick add")
    preview = page.locator("#quick-preview")
    field.press_sequentially("Call mum")
    expect(preview.locator('[data-part="title"]')).to_have_text("Call mum")

    alice.context.clear_cookies()
    with page.expect_response(lambda response: "/tasks/quick/preview" in response.url):
        field.press_sequentially(" today")

    expect(preview).to_be_empty()
    expect(page.locator("#quick-add-form input[type=password]")).to_have_count(0)
    assert alice.problems == []
