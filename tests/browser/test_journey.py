"""The web UI in a real browser against a real server: one user's day, sharing with a
second user, and the layout on a phone-sized screen."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_register_create_filter_edit_attach_and_delete_a_task(
    visitors: Any, tmp_path: Path
) -> None:
    alice = visitors()
    page = alice.page
    name = alice.register()
    expect(page.get_by_role("link", name=name)).to_be_visible()

    task_id = alice.create_task(
        "Write the report", description="Numbers for Q3", priority="high", categories="work"
    )
    expect(page.get_by_text("Task “Write the report” created.")).to_be_visible()
    alice.create_task("Buy milk", categories="home", due_date="2020-01-31")

    page.goto(f"{alice.base}/tasks")
    rows = page.locator(".task-row")
    expect(rows).to_have_count(2)
    expect(page.locator(f'[data-task-id="{task_id}"] .task-title')).to_have_text("Write the report")
    expect(page.locator(".task-row.is-overdue")).to_contain_text("Buy milk")

    page.get_by_text("Filter and sort").click()
    page.get_by_label("Priority", exact=True).select_option("high")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"priority=high"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Write the report")
    expect(page.get_by_label("Priority", exact=True)).to_have_value("high")

    page.get_by_role("link", name="Write the report").click()
    page.get_by_label("Status").select_option("in_progress")
    page.get_by_label("Title").fill("Write the final report")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Task saved.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Write the final report")
    expect(page.locator(".task-detail [data-field=status]")).to_have_text("In progress")

    upload = tmp_path / "notes.txt"
    upload.write_bytes(b"line one\nline two\n")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Attached “notes.txt”.")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="notes.txt", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == "notes.txt"
    assert Path(download.path()).read_bytes() == b"line one\nline two\n"

    page.get_by_role("link", name="Delete…", exact=True).click()
    expect(
        page.get_by_role("heading", name="Delete the task “Write the final report”?")
    ).to_be_visible()
    page.get_by_role("button", name="Delete task").click()
    expect(page).to_have_url(re.compile(r"/tasks$"))
    expect(page.get_by_text("Task “Write the final report” deleted.")).to_be_visible()
    expect(rows).to_have_count(1)
    page.goto(f"{alice.base}/tasks/{task_id}")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()


def test_shared_task_is_visible_to_the_sharee_and_view_access_shows_no_edit_controls(
    visitors: Any,
) -> None:
    owner, guest = visitors(), visitors()
    guest_name = guest.register()
    owner.register()
    task_id = owner.create_task("Plan the trip", description="Trains or planes?")
    page = owner.page
    page.get_by_label("Username or email").fill(guest_name)
    page.get_by_label("Permission").select_option("view")
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_text(f"Shared with {guest_name}: view.")).to_be_visible()
    expect(page.locator(".share-list")).to_contain_text(guest_name)

    guest.page.goto(f"{guest.base}/tasks")
    expect(guest.page.locator(f'[data-task-id="{task_id}"]')).to_contain_text("can view")
    guest.page.get_by_role("link", name="Plan the trip").click()
    expect(guest.page.get_by_text("Trains or planes?")).to_be_visible()
    expect(guest.page.locator(f"form[action$='/tasks/{task_id}']")).to_have_count(0)
    expect(guest.page.get_by_role("button", name="Save changes")).to_have_count(0)
    expect(guest.page.get_by_role("button", name="Upload")).to_have_count(0)
    expect(guest.page.get_by_role("link", name="Delete…")).to_have_count(0)

    page.get_by_label("Permission").select_option("edit")
    page.get_by_label("Username or email").fill(guest_name)
    page.get_by_role("button", name="Share").click()
    guest.page.reload()
    guest.page.get_by_label("Title").fill("Plan the summer trip")
    guest.page.get_by_role("button", name="Save changes").click()
    expect(guest.page.get_by_role("heading", level=1)).to_have_text("Plan the summer trip")


def test_pages_fit_a_375px_wide_screen_without_horizontal_scrolling(visitors: Any) -> None:
    phone = visitors(viewport={"width": 375, "height": 740})
    phone.register()
    task_id = phone.create_task(
        "A long title that keeps going to see whether it wraps instead of overflowing",
        description="x" * 300,
        categories="one, two, three, four, five",
        due_date="2020-02-02",
    )
    page = phone.page
    for path in ("/tasks", f"/tasks/{task_id}", "/tasks/new", "/categories", "/account"):
        page.goto(f"{phone.base}{path}")
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"{path} scrolls sideways: {widths}"
    page.goto(f"{phone.base}/tasks")
    page.get_by_text("Filter and sort").click()
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"open filters scroll sideways: {widths}"
