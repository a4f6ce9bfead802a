"""A real ``doable serve`` and Debian's Chromium, driven by Playwright.

Never ``playwright install``: the browser is the system's ``/usr/bin/chromium``
(``.ci/run`` installs it). Without it these tests skip on a laptop and fail in CI.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_missing
from tests.support.factories import PASSWORD
from tests.support.servers import running_server, server_env

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_names = itertools.count(1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        service_missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server per module on its own SQLite file; tests use their own users."""
    tmp = tmp_path_factory.mktemp("browser")
    env = server_env(f"sqlite:///{tmp / 'doable.sqlite3'}", tmp, DOABLE_RATELIMIT_ENABLED="false")
    with running_server(env, log_path=tmp / "serve.log") as base:
        yield base


class Visitor:
    """One person in their own browser context (cookies of their own)."""

    def __init__(self, context: Any, base: str) -> None:
        self.context = context
        self.page = context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # CSP violations and script errors land here; a page's own 4xx status is meant.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {message.text}")

    def _response(self, response: Any) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def register(self, username: str | None = None) -> str:
        name = username or f"user{next(_names)}"
        page = self.page
        page.goto(f"{self.base}/register")
        page.get_by_label("Username").fill(name)
        page.get_by_label("Email").fill(f"{name}@example.com")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Repeat password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(re.compile(r"/tasks$"))
        return name

    def login(self, name: str) -> None:
        page = self.page
        page.goto(f"{self.base}/login")
        page.get_by_label("Email or username").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/tasks$"))

    def create_task(self, title: str, **fields: str) -> int:
        page = self.page
        page.goto(f"{self.base}/tasks/new")
        page.get_by_label("Title").fill(title)
        if "description" in fields:
            page.get_by_label("Description").fill(fields["description"])
        if "priority" in fields:
            page.get_by_label("Priority").select_option(fields["priority"])
        if "due_date" in fields:
            page.get_by_label("Due date").fill(fields["due_date"])
        if "categories" in fields:
            page.get_by_label("Categories").fill(fields["categories"])
        page.get_by_role("button", name="Create task").click()
        page.wait_for_url(re.compile(r"/tasks/\d+$"))
        return int(page.url.rsplit("/", 1)[1])


@pytest.fixture
def visitors(browser: Any, server: str) -> Iterator[Any]:
    """``visitors()`` opens a new person's browser; all are closed after the test."""
    opened: list[Visitor] = []

    def open_visitor(**options: Any) -> Visitor:
        visitor = Visitor(browser.new_context(**options), server)
        opened.append(visitor)
        return visitor

    yield open_visitor
    for visitor in opened:
        visitor.context.close()
    assert [problem for visitor in opened for problem in visitor.problems] == []
