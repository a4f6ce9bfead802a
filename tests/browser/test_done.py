"""Done in one click, with and without JavaScript, and the Today and Upcoming pages of
people in two zones a day apart (the server's dates; the server is tested at its
boundaries in tests/tasks/test_views_pages.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from playwright.sync_api import expect

from doable.tasks import recurrence
from tests.support.factories import PASSWORD

LIVE = 10_000  # ms: what the socket brings may take a while on a busy machine


def _auth(base: str, username: str) -> dict[str, str]:
    login = requests.post(
        f"{base}/api/login", json={"username": username, "password": PASSWORD}, timeout=10
    )
    return {"Authorization": f"Bearer {login.json()['token']}"}


def test_one_click_with_javascript_ticks_in_place_and_undo_works(
    visitors: Any, server: str
) -> None:
    alice = visitors(timezone_id="UTC")  # her account takes the browser's zone
    name = alice.register()
    today = recurrence.today_in(recurrence.zone("UTC"), datetime.now(UTC))
    task_id = alice.create_task("Buy milk", due_date=today.isoformat())
    page = alice.page
    page.goto(f"{server}/tasks")
    expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=10_000)
    page.evaluate("() => (window.__marker = 'same page')")
    page.evaluate(_RECORD_ANNOUNCEMENTS)
    row = page.locator(f'#task-list > .task-row[data-task-id="{task_id}"]')
    expect(page.locator("[data-count=today]")).to_have_text("1")

    row.locator(".done-toggle").click()

    expect(row.locator(".done-toggle")).to_have_attribute("aria-pressed", "true")
    expect(row.locator("[data-field=status]")).to_have_text("Completed")
    expect(page.locator("#done-toast")).to_contain_text("“Buy milk” done.")
    expect(page.locator("[data-count=today]")).to_have_text("0", timeout=LIVE)  # the echo
    expect(page.locator("#announcer")).to_have_text("“Buy milk” done. Undo is available.")

    undo = page.locator("#done-toast").get_by_role("button", name="Undo")
    page.keyboard.press("Tab")  # from the box just ticked to its confirmation
    expect(undo).to_be_focused()
    page.keyboard.press("Enter")

    expect(row.locator(".done-toggle")).to_have_attribute("aria-pressed", "false")
    expect(row.locator(".done-toggle")).to_be_focused()  # not lost with the Undo button
    page.locator("#quick-add").focus()  # elsewhere: the confirmation no longer covers it
    expect(page.locator("#done-toast")).to_be_hidden()
    expect(page.locator("#announcer")).to_have_text("“Buy milk” is back as it was.")
    expect(page.locator("[data-count=today]")).to_have_text("1", timeout=LIVE)
    requests.patch(  # elsewhere: said on the page
        f"{server}/api/tasks/{task_id}",
        json={"title": "Milk and eggs"},
        headers=_auth(server, name),
        timeout=10,
    ).raise_for_status()
    expect(page.locator("#announcer")).to_have_text("“Milk and eggs” was updated.", timeout=LIVE)
    # Events are applied in order: the tab's own two changes came back before this one,
    # and neither was said a second time.
    assert page.evaluate("() => window.__said") == [
        "“Buy milk” done. Undo is available.",
        "“Buy milk” is back as it was.",
        "“Milk and eggs” was updated.",
    ]
    assert page.evaluate("() => window.__marker") == "same page"  # never reloaded

    # On the task's own page the form is sent as a form: the page comes back whole, its
    # edit form holding the task's new version.
    page.goto(f"{server}/tasks/{task_id}")
    page.locator(".task-detail .done-toggle").click()
    expect(page.locator(".flash-undo")).to_contain_text("“Milk and eggs” done.")
    expect(page.locator(".task-detail .done-toggle")).to_have_attribute("aria-pressed", "true")
    page.locator("#edit").get_by_label("Title").fill("Milk, eggs and bread")
    page.locator("#edit").get_by_role("button", name="Save changes").click()
    expect(page.locator(".task-detail h1")).to_have_text("Milk, eggs and bread")
    expect(page.get_by_text("Someone changed this task")).to_have_count(0)
    # A live update replaces the summary: the focus in it is given back, not dropped.
    expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=LIVE)
    page.locator(".task-detail .done-toggle").focus()
    requests.patch(
        f"{server}/api/tasks/{task_id}",
        json={"title": "Bread"},
        headers=_auth(server, name),
        timeout=10,
    ).raise_for_status()
    expect(page.locator(".task-detail h1")).to_have_text("Bread", timeout=LIVE)
    expect(page.locator(".task-detail .done-toggle")).to_be_focused()


_RECORD_ANNOUNCEMENTS = """() => {
  window.__said = [];
  const region = document.getElementById("announcer");
  new MutationObserver(() => {
    if (region.textContent) {
      window.__said.push(region.textContent);
    }
  }).observe(region, { childList: true, characterData: true, subtree: true });
}"""


def test_one_click_without_javascript_posts_the_form_and_offers_undo(
    visitors: Any, server: str
) -> None:
    bob = visitors(java_script_enabled=False)
    bob.register()
    task_id = bob.create_task("Call Sam")
    page = bob.page
    page.goto(f"{server}/tasks")

    page.locator(f'.task-row[data-task-id="{task_id}"] .done-toggle').click()

    page.wait_for_url(re.compile(r"/tasks$"))
    expect(page.locator(".flash-undo")).to_contain_text("“Call Sam” done.")
    toggle = page.locator(f'.task-row[data-task-id="{task_id}"] .done-toggle')
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.locator(".flash-undo").get_by_role("button", name="Undo").click()
    expect(page.locator(".flash-success")).to_contain_text("“Call Sam” is back as it was.")
    expect(toggle).to_have_attribute("aria-pressed", "false")


def test_today_and_upcoming_follow_each_persons_zone(visitors: Any, server: str) -> None:
    for zone_name in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        ids: dict[str, int] = {}
        person = visitors(timezone_id=zone_name)
        name = person.register()
        auth = _auth(server, name)
        me = requests.patch(
            f"{server}/api/me", json={"timezone": zone_name}, headers=auth, timeout=10
        )
        me.raise_for_status()
        today = recurrence.today_in(recurrence.zone(zone_name), datetime.now(UTC))
        tomorrow = today + timedelta(days=1)
        for title, due in (
            ("late tonight", {"due_date": today.isoformat(), "due_time": "23:59"}),
            ("first thing", {"due_date": tomorrow.isoformat(), "due_time": "00:00"}),
        ):
            created = requests.post(
                f"{server}/api/tasks", json={"title": title, **due}, headers=auth, timeout=10
            )
            created.raise_for_status()
            ids[title] = created.json()["id"]
        page = person.page

        page.goto(f"{server}/tasks/today")
        expect(page.locator("#task-list .task-title")).to_have_text(["late tonight"])
        expect(page.get_by_role("link", name=re.compile("^Today"))).to_have_attribute(
            "aria-current", "page"
        )
        page.goto(f"{server}/tasks/upcoming")
        expect(page.locator("#task-list .task-title")).to_have_text(["first thing"])
        expect(page.locator(".day-heading h2")).to_have_text(["Tomorrow"])
        expect(page.locator("[data-count=today]")).to_have_text("1")
        expect(page.locator("[data-count=upcoming]")).to_have_text("1")

    # Upcoming's last task of a day deleted elsewhere: its row and its day's heading go,
    # and the page says nothing is left.
    expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=LIVE)
    requests.delete(
        f"{server}/api/tasks/{ids['first thing']}", headers=auth, timeout=10
    ).raise_for_status()
    expect(page.locator("#task-list .task-row")).to_have_count(0, timeout=LIVE)
    expect(page.locator(".day-heading")).to_have_count(0)
    expect(page.locator("#live-notice")).to_contain_text("This page has no tasks left.")
