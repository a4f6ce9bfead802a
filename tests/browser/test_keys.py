"""The keyboard shortcuts (static/keys.js) in a real browser: the keys of the list, the
list of them, and no key taken from someone typing in a field."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.support.factories import PASSWORD

pytestmark = pytest.mark.slow
CURRENT = re.compile(r"\bis-current\b")


def _create_tasks(base: str, username: str, titles: list[str]) -> dict[str, str]:
    """Creates the tasks through the API; returns its authorization, for more."""
    login = requests.post(
        f"{base}/api/login", json={"username": username, "password": PASSWORD}, timeout=10
    )
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    for title in titles:
        created = requests.post(
            f"{base}/api/tasks", json={"title": title}, headers=auth, timeout=10
        )
        assert created.status_code == 201, created.text
    return auth


def _open_list(page: Any, base: str) -> Any:
    page.goto(f"{base}/tasks")
    # The script shows its hint when it runs: from then on the keys work.
    expect(page.get_by_role("button", name="Keyboard shortcuts")).to_be_visible()
    return page.locator("#task-list > .task-row")


def _expect_current(page: Any, row: Any) -> None:
    expect(row).to_have_class(CURRENT)
    expect(row.locator("a.task-title")).to_be_focused()
    expect(page.locator(".task-row.is-current")).to_have_count(1)


def test_the_list_is_driven_from_the_keyboard(visitors: Any) -> None:
    person = visitors()
    _create_tasks(person.base, person.register(), ["First", "Second", "Third"])
    page = person.page
    rows = _open_list(page, person.base)
    expect(rows).to_have_count(3)
    page.evaluate(
        "() => { window.changed = [];"
        " document.addEventListener('change', (e) => window.changed.push(e.target.value)); }"
    )

    page.keyboard.press("j")  # from no row: the first
    _expect_current(page, rows.nth(0))
    page.keyboard.press("j")
    _expect_current(page, rows.nth(1))
    page.keyboard.press("k")
    _expect_current(page, rows.nth(0))

    page.keyboard.press("x")  # selects the row as a click would, for the bulk script
    expect(rows.nth(0).locator(".select-box")).to_be_checked()
    expect(rows.nth(1).locator(".select-box")).not_to_be_checked()
    first_id = rows.nth(0).get_attribute("data-task-id")
    assert page.evaluate("() => window.changed") == [first_id]
    expect(page.locator("#announcer")).to_have_text("1 selected")  # said once, by bulk.js

    page.keyboard.press("/")  # the search field, its filters opened
    expect(page.locator("details.filters")).to_have_attribute("open", "")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("jk")  # typed, not taken
    expect(page.locator("#q")).to_have_value("jk")
    expect(rows.nth(0)).to_have_class(CURRENT)
    page.locator("#q").blur()

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    page.keyboard.press("j")  # the list is modal: nothing behind it moves
    expect(rows.nth(0)).to_have_class(CURRENT)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    page.keyboard.press("j")  # on from the row last current
    expect(rows.nth(1)).to_have_class(CURRENT)
    page.keyboard.press("Escape")  # leaves it
    expect(page.locator(".task-row.is-current")).to_have_count(0)
    page.keyboard.press("j")
    page.keyboard.press("j")
    opened = rows.nth(1).get_attribute("data-task-id")
    page.keyboard.press("e")
    page.wait_for_url(re.compile(rf"/tasks/{opened}$"))
    page.go_back()
    expect(page.get_by_role("button", name="Keyboard shortcuts")).to_be_visible()
    assert person.problems == []


def test_new_task_a_live_redraw_and_done_from_the_keyboard(visitors: Any) -> None:
    person = visitors()
    auth = _create_tasks(person.base, person.register(), ["Only"])
    page = person.page
    rows = _open_list(page, person.base)

    page.keyboard.press("n")
    expect(page.locator("#quick-add")).to_be_focused()
    expect(page.locator("#quick-add")).to_have_value("")  # the "n" is not typed
    page.locator("#quick-add").blur()

    page.keyboard.press("j")
    task_id = rows.nth(0).get_attribute("data-task-id")
    expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=10_000)
    renamed = requests.patch(
        f"{person.base}/api/tasks/{task_id}", json={"title": "Renamed"}, headers=auth, timeout=10
    )
    assert renamed.status_code == 200, renamed.text
    expect(rows.nth(0).locator("a.task-title")).to_have_text("Renamed", timeout=10_000)
    _expect_current(page, rows.nth(0))  # still the current one, the focus given back
    page.evaluate("() => (window.__marker = 'same page')")
    done = []
    page.on(
        "request",
        lambda request: (
            done.append(request.url)
            if request.method == "POST" and request.url.endswith(f"/tasks/{task_id}/done")
            else None
        ),
    )

    page.keyboard.press("d")  # the row's done button, pressed: its script acts

    expect(rows.nth(0).locator(".done-toggle")).to_have_attribute("aria-pressed", "true")
    expect(rows.nth(0).locator("[data-field=status]")).to_have_text("Completed")
    expect(page.locator("#done-toast")).to_contain_text("“Renamed” done.")
    assert len(done) == 1
    assert page.evaluate("() => window.__marker") == "same page"  # not navigated
    assert person.problems == []


_FOCUSED = """() => {
  const seen = (window.focusSeen ??= new WeakSet());
  const element = document.activeElement;
  if (!element || element === document.body || seen.has(element)) {
    return null;
  }
  seen.add(element);
  const style = getComputedStyle(element);
  let around = null; // the colour the ring is drawn on: the first painted ancestor's
  for (let node = element.parentElement; node && !around; node = node.parentElement) {
    const colour = getComputedStyle(node).backgroundColor;
    around = colour === "rgba(0, 0, 0, 0)" ? null : colour;
  }
  return {
    what: `${element.tagName} ${element.id || element.className} ${element.textContent.trim()}`,
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    colour: style.outlineColor,
    around: around ?? getComputedStyle(document.documentElement).backgroundColor,
  };
}"""


def _luminance(colour: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", colour)[:3])

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def _contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _rings(page: Any) -> list[dict[str, Any]]:
    """What each control shows when Tab reaches it, in the page's order, once round."""
    page.evaluate("() => { window.focusSeen = new WeakSet(); document.activeElement?.blur(); }")
    found = []
    for _ in range(200):  # a bound: the pages hold far fewer controls
        page.keyboard.press("Tab")
        ring = page.evaluate(_FOCUSED)
        if ring is None:
            break
        found.append(ring)
    return found


def test_every_control_the_keyboard_reaches_shows_a_clear_focus_ring(visitors: Any) -> None:
    person = visitors()
    _create_tasks(person.base, person.register(), ["Ringed"])
    page = person.page
    page.goto(f"{person.base}/tasks")
    task_id = page.locator(".task-row").first.get_attribute("data-task-id")

    for scheme in ["light", "dark"]:
        page.emulate_media(color_scheme=scheme)
        for path in ["/tasks?status=pending", f"/tasks/{task_id}"]:  # every kind of control
            page.goto(f"{person.base}{path}")
            rings = _rings(page)
            assert len(rings) > 10, path
            for ring in rings:
                assert ring["style"] != "none", (scheme, path, ring)
                assert ring["width"] >= 2, (scheme, path, ring)
                assert _contrast(ring["colour"], ring["around"]) >= 3, (scheme, path, ring)
