"""Bulk actions in a real browser (static/tasks/bulk.js): shift-click ticks a range,
"Select all on this page" ticks all and goes mixed, the count and the buttons follow,
and Complete completes the selection."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_shift_click_range_select_all_and_complete_the_selection(visitors: Any) -> None:
    alice = visitors()
    alice.register()
    for title in ("A", "B", "C", "D"):
        alice.create_task(title)
    page = alice.page
    page.goto(f"{alice.base}/tasks")
    rows = page.locator("#task-list > .task-row")
    boxes = rows.locator(".select-box")
    complete = page.locator("#bulk-form").get_by_role("button", name="Complete", exact=True)
    select_all = page.get_by_label("Select all on this page")
    expect(complete).to_be_disabled()

    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])

    expect(page.locator("#bulk-count")).to_have_text("3 selected")
    expect(page.locator("#announcer")).to_have_text("3 selected")
    expect(rows.locator(".select-box:checked")).to_have_count(3)
    expect(page.locator(".task-row.is-selected .task-title")).to_have_text(["D", "C", "B"])
    expect(select_all).to_have_js_property("indeterminate", True)
    select_all.check()
    expect(rows.locator(".select-box:checked")).to_have_count(4)
    select_all.uncheck()
    expect(complete).to_be_disabled()
    boxes.nth(3).click()
    boxes.nth(1).click(modifiers=["Shift"])
    expect(complete).to_be_enabled()

    complete.click()

    page.wait_for_url(re.compile(r"/tasks\?*$"))
    expect(page.locator(".flash")).to_have_text("3 tasks completed.")
    expect(page.locator(".task-row.is-done .task-title")).to_have_text(["C", "B", "A"])
    expect(rows.locator(".select-box:checked")).to_have_count(0)
