"""Live updates put in the page the very markup a reload renders: the server renders
the changed task through the page's own macros, the page only swaps it in."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.test_live import _connected, _token
from tests.support.pages import steady

pytestmark = pytest.mark.slow
#: A row as a reload would show it: without the mark of a row that just arrived.
AS_LOADED = """node => {
  const copy = node.cloneNode(true);
  copy.classList.remove("is-new");
  return copy.outerHTML;
}"""


def _call(method: str, url: str, auth: dict[str, str], **body: Any) -> Any:
    """A change made elsewhere: through the API, as another client would."""
    response = requests.request(method, url, json=body, headers=auth, timeout=10)
    response.raise_for_status()
    return response.json()


def test_a_live_row_is_the_row_a_reload_renders(visitors: Any, server: str) -> None:
    alice = visitors()
    auth = _token(server, alice.register())
    page = alice.page
    page.goto(f"{server}/tasks")
    _connected(page)

    created = _call(
        "POST",
        f"{server}/api/tasks",
        auth,
        title="Fix <the> roof & gutter",
        priority="low",
        categories=["home"],
    )
    row = page.locator(f'[data-task-id="{created["id"]}"]')
    expect(row).to_have_class("task-row is-new")
    arrived = row.evaluate(AS_LOADED)
    edit = f"{server}/api/tasks/{created['id']}"
    _call("PATCH", edit, auth, title="Fixed", due_date="2020-02-03", categories=["home", "diy"])
    expect(row.locator(".task-title")).to_have_text("Fixed")
    changed = row.evaluate("node => node.outerHTML")

    page.reload()
    assert steady(row.evaluate("node => node.outerHTML")) == steady(changed)
    _call("PATCH", edit, auth, title="Fix <the> roof & gutter", due_date=None, categories=["home"])
    page.reload()
    assert steady(row.evaluate(AS_LOADED)) == steady(arrived)


def test_a_live_task_summary_is_the_summary_a_reload_renders(visitors: Any, server: str) -> None:
    owner, guest = visitors(), visitors()
    auth = _token(server, owner.register())
    guest_name = guest.register()
    task = _call("POST", f"{server}/api/tasks", auth, title="Plan")
    share = f"{server}/api/tasks/{task['id']}/share"
    _call("POST", share, auth, username=guest_name, permission="edit")
    page = guest.page
    page.goto(f"{server}/tasks/{task['id']}")
    _connected(page)

    edit = f"{server}/api/tasks/{task['id']}"
    _call("PATCH", edit, auth, title="Plan <b>", status="in_progress", description="1.\n2.")
    summary = page.locator(".task-detail")
    expect(summary.locator("[data-field=title]")).to_have_text("Plan <b>")
    expect(page).to_have_title("Plan <b> · Doable")
    changed = summary.evaluate("node => node.outerHTML")

    page.reload()
    assert steady(summary.evaluate("node => node.outerHTML")) == steady(changed)
