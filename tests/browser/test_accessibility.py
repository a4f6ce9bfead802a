"""Every page a person can reach, audited by axe-core (the npm package in tests/js) in
Chromium, in the light and the dark colour scheme: no WCAG 2.x A/AA violation of
impact "serious" or "critical" is allowed.

The pages are listed in ``PAGES``, one line each; a path names the seeded records
(``{own_task}``). A page another branch is adding is ``optional``: audited once it
answers, skipped (saying so) while it is a 404. One browser and one signed-in context
per theme serve every page; axe is injected with ``page.evaluate``, which the page's
CSP does not govern, so the CSP stays as strict as it is served.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from doable import create_app
from doable.extensions import db
from doable.notifications import service as notifications
from doable.unit_of_work import unit_of_work
from tests.browser.conftest import Visitor
from tests.conftest import base_config, service_missing
from tests.support.factories import Account
from tests.support.realtime import register
from tests.support.servers import running_server, server_env

pytestmark = pytest.mark.slow

JS = Path(__file__).resolve().parents[1] / "js"
AXE = JS / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.0, 2.1 and 2.2, levels A and AA: what the issue asks every page to meet.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = {"serious", "critical"}
THEMES = ("light", "dark")
OWNER, SHAREE = "maya", "sam"


def submit(button: str | re.Pattern[str], **fields: str) -> Callable[[Any], None]:
    """Fill the fields (by label) and press the button, the browser's own checks off,
    so the page shows the server's messages next to the fields."""

    def act(page: Any) -> None:
        page.evaluate("() => document.querySelectorAll('form').forEach(f => f.noValidate = true)")
        for label, value in fields.items():
            page.get_by_label(label, exact=True).fill(value)
        with page.expect_navigation():
            page.get_by_role("button", name=button).click()

    return act


@dataclass(frozen=True)
class Page:
    """One page to audit: ``path`` is formatted with the seeded ids (``Seeded``)."""

    name: str
    path: str
    signed_in: bool = True
    status: int = 200
    optional: bool = False  # another branch's page: audited once it answers 200
    then: Callable[[Any], None] | None = None  # what to do on it first (submit a form)


PAGES = [
    Page("login", "/login", signed_in=False),
    Page("login-failed", "/login", signed_in=False, then=submit("Log in", Password="wrong")),
    Page("register", "/register", signed_in=False),
    Page("register-errors", "/register", signed_in=False, then=submit("Create account")),
    Page("tasks", "/tasks"),
    Page("tasks-filtered", "/tasks?status=pending&sort=due_date&category=work&q=report"),
    Page(
        "tasks-filter-errors", "/tasks?due_after=someday&priority=urgent&per_page=1000", status=400
    ),
    Page("tasks-today", "/tasks/today", optional=True),
    Page("tasks-upcoming", "/tasks/upcoming", optional=True),
    Page("task-new", "/tasks/new"),
    Page("task-new-errors", "/tasks/new", then=submit("Create task")),
    Page("task-owner", "/tasks/{own_task}"),
    Page("task-view-sharee", "/tasks/{shared_task}"),
    Page("task-delete", "/tasks/{own_task}/delete"),
    Page("attachment-delete", "/tasks/{own_task}/attachments/{attachment}/delete"),
    Page("categories", "/categories"),
    Page("category-delete", "/categories/{category}/delete"),
    Page("account", "/account"),
    Page("account-delete", "/account/delete"),
    Page("calendar-feed-issued", "/account", then=submit(re.compile("Make a (feed|new) URL"))),
    Page("tokens", "/account/tokens"),
    Page("token-delete", "/account/tokens/{token}/delete"),
    Page("webhooks", "/webhooks"),
    Page("webhook-new", "/webhooks/new"),
    Page(
        "webhook-new-errors",
        "/webhooks/new",
        then=submit("Create webhook", **{"Payload URL": "ftp://x"}),
    ),
    Page("webhook", "/webhooks/{webhook}"),
    Page("webhook-delivery", "/webhooks/{webhook}/deliveries/{delivery}"),
    Page("webhook-delete", "/webhooks/{webhook}/delete"),
    Page("notifications", "/notifications"),
    Page("not-found", "/tasks/999999", status=404),
]


@dataclass(frozen=True)
class Seeded:
    """The records the pages show, by the names ``Page.path`` uses."""

    own_task: int
    shared_task: int
    attachment: int
    category: int
    token: int
    webhook: int
    delivery: int


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's script, once the version tests/js/package-lock.json pins is installed."""
    locked = json.loads((JS / "package-lock.json").read_text())
    wanted = locked["packages"]["node_modules/axe-core"]["version"]
    manifest = AXE.parent / "package.json"
    installed = json.loads(manifest.read_text())["version"] if manifest.exists() else None
    if installed != wanted:
        found = f"tests/js has axe-core {installed}" if installed else "axe-core is not in tests/js"
        service_missing(f"{found}, its lock file pins {wanted}: run npm ci --prefix tests/js")
    return AXE.read_text()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('accessibility') / 'doable.sqlite3'}"


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """No worker: the webhook's ping stays queued, and nothing leaves this machine."""
    tmp = tmp_path_factory.mktemp("serve")
    env = server_env(database, tmp, DOABLE_RATELIMIT_ENABLED="false")
    with running_server(env, log_path=tmp / "serve.log") as base:
        yield base


def _post(account: Account, path: str, **kwargs: Any) -> dict[str, Any]:
    answer = account.call("POST", path, **kwargs)
    assert answer.status_code in (200, 201, 202), (path, answer.status_code, answer.text)
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module")
def seeded(server: str, database: str, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """Maya's tasks (due dates, priorities, categories, one overdue, one done), one of
    Sam's shared with her to view, a file, a token, a webhook with a queued ping and an
    unread notification."""
    maya, sam = register(server, OWNER), register(server, SHAREE)
    today = datetime.now(UTC).date()
    category = _post(maya, "/api/categories", json={"name": "work", "color": "#4f46e5"})
    rows = [
        ("Renew passport", "pending", "high", today - timedelta(days=2), ["errands"]),
        ("Book the dentist", "completed", "low", today, ["home"]),
        ("Water the plants", "pending", "low", None, []),
        ("Write the report", "in_progress", "medium", today + timedelta(days=3), ["work"]),
    ]
    for title, status, priority, due, names in rows:
        body = {"title": title, "status": status, "priority": priority, "categories": names}
        own = _post(maya, "/api/tasks", json=body | ({"due_date": str(due)} if due else {}))
    file = _post(maya, f"/api/tasks/{own['id']}/attachments", files={"file": ("a.txt", b"a\n")})
    _post(maya, f"/api/tasks/{own['id']}/share", json={"username": SHAREE, "permission": "edit"})
    theirs = _post(sam, "/api/tasks", json={"title": "Plan the offsite", "due_date": str(today)})
    _post(sam, f"/api/tasks/{theirs['id']}/share", json={"username": OWNER, "permission": "view"})
    token = _post(maya, "/api/tokens", json={"name": "backup", "scopes": ["tasks:read"]})
    hook = {"url": "https://hooks.example.com/doable", "events": ["task.created"]}
    webhook = _post(maya, "/api/webhooks", json=hook)
    delivery = _post(maya, f"/api/webhooks/{webhook['id']}/test")
    _notify(database, tmp_path_factory.mktemp("app"), maya.id, own["id"])
    return Seeded(
        own_task=own["id"],
        shared_task=theirs["id"],
        attachment=file["id"],
        category=category["id"],
        token=token["id"],
        webhook=webhook["id"],
        delivery=delivery["id"],
    )


def _notify(database: str, tmp_path: Path, user_id: int, task_id: int) -> None:
    """An unread notification, written as the reminder worker writes one."""
    app: Any = create_app(base_config(database, tmp_path))
    with app.app_context():
        with unit_of_work():
            notifications.create(
                user_id=user_id,
                kind="reminder",
                title="Write the report",
                task_id=task_id,
            )
        db.engine.dispose()


@pytest.fixture(scope="module")
def people(browser: Any, server: str, seeded: Seeded) -> Iterator[Callable[[str, bool], Visitor]]:
    """``people(theme, signed_in)``: one context each, made on first use and kept."""
    opened: dict[tuple[str, bool], Visitor] = {}

    def person(theme: str, signed_in: bool) -> Visitor:
        key = (theme, signed_in)
        if key not in opened:
            visitor = Visitor(browser.new_context(color_scheme=theme), server)
            visitor.context.set_default_timeout(10_000)
            if signed_in:
                visitor.login(OWNER)
            opened[key] = visitor
        return opened[key]

    yield person
    for visitor in opened.values():
        visitor.context.close()


def _serious(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("spec", PAGES, ids=[p.name for p in PAGES])
def test_page_has_no_serious_accessibility_violation(
    spec: Page, theme: str, people: Callable[[str, bool], Visitor], seeded: Seeded, axe_source: str
) -> None:
    visitor = people(theme, spec.signed_in)
    page, path = visitor.page, spec.path.format(**vars(seeded))
    answer = page.goto(f"{visitor.base}{path}")
    if spec.optional and answer.status == 404:
        pytest.skip(f"{path} answers 404: that page is not on this branch")
    assert answer.status == spec.status, path
    if spec.then is not None:
        spec.then(page)
    page.evaluate(axe_source)
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results = page.evaluate("options => axe.run(document, options)", options)

    found, problems = _serious(results["violations"]), list(visitor.problems)
    visitor.problems.clear()
    assert found == [], f"{spec.name} ({path}) in the {theme} theme:\n" + "\n".join(found)
    assert problems == []


#: Pages tabbed through from top to bottom: every control on them shows its focus.
FOCUS_PAGES = ("tasks", "task-owner", "account", "webhook")
#: The focused element, its outline, and the background the outline is drawn on (the
#: nearest ancestor's that is not transparent); "again" once Tab has come round.
FOCUSED = """() => {
  const el = document.activeElement;
  window.seenFocus = window.seenFocus || new Set();
  if (!el || el === document.body) return "again";
  if (window.seenFocus.has(el)) return "again";
  window.seenFocus.add(el);
  const style = getComputedStyle(el);
  let under = el.parentElement, background = "rgb(255, 255, 255)";
  for (; under; under = under.parentElement) {
    const color = getComputedStyle(under).backgroundColor;
    if (!/^rgba\\(.*, 0\\)$/.test(color) && color !== "transparent") { background = color; break; }
  }
  const name = (el.getAttribute("aria-label") || el.textContent || el.name || el.id || "").trim();
  return {what: `${el.tagName.toLowerCase()} "${name.slice(0, 40)}"`,
          style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          color: style.outlineColor, background};
}"""


def _luminance(color: str) -> float:
    red, green, blue = (int(part) / 255 for part in re.findall(r"[\d.]+", color)[:3])
    linear = [
        c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """WCAG's contrast ratio of two computed ``rgb(...)`` colours."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _unseen_focus(focused: dict[str, Any]) -> str | None:
    if focused["style"] == "none" or focused["width"] < 2:
        return f"{focused['what']}: no outline ({focused['style']} {focused['width']}px)"
    ratio = contrast(focused["color"], focused["background"])
    if ratio < 3:
        where = f"{focused['color']} on {focused['background']}"
        return f"{focused['what']}: outline {where} is {ratio:.2f}:1"
    return None


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("name", FOCUS_PAGES)
def test_every_control_shows_its_focus_when_tabbed_to(
    name: str, theme: str, people: Callable[[str, bool], Visitor], seeded: Seeded
) -> None:
    """WCAG 2.4.7 and 1.4.11: a 2 px outline or more, 3:1 against what is around it."""
    spec = next(p for p in PAGES if p.name == name)
    visitor = people(theme, spec.signed_in)
    page = visitor.page
    page.goto(f"{visitor.base}{spec.path.format(**vars(seeded))}")
    unseen, reached = [], 0
    for _ in range(400):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused == "again":
            break
        reached += 1
        if (problem := _unseen_focus(focused)) is not None:
            unseen.append(problem)
    assert reached > 5, f"Tab reached only {reached} controls on {name}"
    assert unseen == [], f"{name} in the {theme} theme:\n" + "\n".join(unseen)
