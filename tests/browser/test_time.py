"""Time in a real browser: sign-up takes the browser's time zone (static/timezone.js),
then "every weekday at 9:00, remind me 30 minutes before" set through the task form,
its next occurrences on the task page, and Done moving it on."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_sign_up_in_the_browsers_zone_and_set_every_weekday_at_nine(visitors: Any) -> None:
    alice = visitors(timezone_id="America/New_York")
    page = alice.page
    alice.register()

    page.goto(f"{alice.base}/account")
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")

    page.goto(f"{alice.base}/tasks/new")
    expect(page.get_by_label("Time zone")).to_have_value("")
    expect(page.get_by_label("Time zone").locator("option:checked")).to_have_text(
        "Your zone (America/New_York)"
    )
    page.get_by_label("Title").fill("Stand-up")
    page.get_by_label("Due date").fill("2030-01-07")
    page.get_by_label("Due time").fill("09:00")
    page.get_by_label("Repeats").select_option("weekdays")
    page.locator("#reminders-0-kind").select_option("before")
    page.locator("#reminders-0-amount").fill("30")
    page.locator("#reminders-0-unit").select_option("minutes")
    page.get_by_role("button", name="Create task").click()
    page.wait_for_url(re.compile(r"/tasks/\d+$"))

    occurrences = page.locator("#occurrences li")
    expect(occurrences).to_have_count(5)
    expect(occurrences).to_have_text(
        [
            "7 Jan 2030, 09:00",
            "8 Jan 2030, 09:00",
            "9 Jan 2030, 09:00",
            "10 Jan 2030, 09:00",
            "11 Jan 2030, 09:00",
        ]
    )
    expect(page.locator(".task-detail [data-field=due]")).to_contain_text(
        "7 Jan 2030, 09:00 America/New_York"
    )
    expect(page.locator("#reminders-0-amount")).to_have_value("30")

    page.get_by_role("button", name="Done (next: 8 Jan 2030, 09:00)").click()
    expect(page.get_by_text("Done.", exact=True)).to_be_visible()
    expect(occurrences.first).to_have_text("8 Jan 2030, 09:00")
