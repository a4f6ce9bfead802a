"""A live page misses nothing across a server restart: it reads what happened while it
was away from the change feed when its socket connects again, without a reload and
without a notice; only when the feed no longer holds it (410) does it reload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from doable.app import create_app
from doable.changes.service import prune
from doable.db import utcnow
from tests.browser.conftest import Visitor
from tests.browser.test_live import _connected, _token
from tests.conftest import base_config
from tests.support.servers import server_env, start_server, stop_server

pytestmark = pytest.mark.slow


class Site:
    """One SQLite database served by a process that can stop and start again on the
    same port, and by others beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.database_url = f"sqlite:///{folder / 'doable.sqlite3'}"
        self.env = server_env(self.database_url, folder, DOABLE_RATELIMIT_ENABLED="false")
        self.processes: list[Any] = []
        self.main, self.base = self.start()
        self.port = int(self.base.rsplit(":", 1)[1])

    def start(self, port: int | None = None, name: str = "serve") -> tuple[Any, str]:
        log = self.folder / f"{name}-{len(self.processes)}.log"
        process, base = start_server(self.env, log_path=log, port=port)
        self.processes.append(process)
        return process, base

    def restart(self) -> None:
        self.main, _ = self.start(self.port)

    def close(self) -> None:
        for process in self.processes:
            stop_server(process)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path)
    try:
        yield site
    finally:
        site.close()


@pytest.fixture
def visitor(browser: Any, site: Site) -> Iterator[Visitor]:
    visitor = Visitor(browser.new_context(), site.base)
    try:
        yield visitor
    finally:
        visitor.context.close()


def _real_problems(visitor: Visitor) -> list[str]:
    """What went wrong in the page, but for the socket failing to reach a stopped server
    (the browser logs each attempt) and what the test provokes (``expected``)."""
    return [
        problem
        for problem in visitor.problems
        if not problem.startswith("console: WebSocket connection to")
    ]


def _call(method: str, url: str, auth: dict[str, str], **body: Any) -> Any:
    response = requests.request(method, url, json=body or None, headers=auth, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def test_a_list_page_shows_every_change_made_while_its_server_was_down(
    visitor: Visitor, site: Site
) -> None:
    name = visitor.register()
    auth = _token(site.base, name)
    kept = _call("POST", f"{site.base}/api/tasks", auth, title="Kept")
    doomed = _call("POST", f"{site.base}/api/tasks", auth, title="Doomed")
    page = visitor.page
    page.goto(f"{site.base}/tasks")
    _connected(page)
    page.evaluate("() => (window.__marker = 'same page')")

    stop_server(site.main)
    expect(page.locator("html")).not_to_have_attribute("data-live", "connected")
    _, other = site.start(name="other")  # another process, on the same database
    made = [_call("POST", f"{other}/api/tasks", auth, title=f"While away {n}") for n in range(3)]
    _call("PATCH", f"{other}/api/tasks/{kept['id']}", auth, title="Kept, renamed")
    _call("DELETE", f"{other}/api/tasks/{doomed['id']}", auth)
    site.restart()

    # The page retries with backoff (1 s doubling to 30 s): the next try may be a while.
    expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=45_000)
    for task in made:
        expect(page.locator(f'[data-task-id="{task["id"]}"] .task-title')).to_have_text(
            task["title"]
        )
    expect(page.locator(f'[data-task-id="{kept["id"]}"] .task-title')).to_have_text("Kept, renamed")
    expect(page.locator(f'[data-task-id="{doomed["id"]}"]')).to_have_count(0)
    expect(page.locator("#task-summary")).to_have_text("4 tasks")
    # The stream goes on from where the feed left it.
    after = _call("POST", f"{site.base}/api/tasks", auth, title="After the restart")
    expect(page.locator(f'[data-task-id="{after["id"]}"] .task-title')).to_have_text(
        "After the restart"
    )
    titles = page.locator(".task-row .task-title").all_text_contents()
    assert titles == [
        "After the restart",
        "While away 2",
        "While away 1",
        "While away 0",
        "Kept, renamed",
    ]
    expect(page.locator("#live-notice")).to_be_hidden()
    assert page.evaluate("() => window.__marker") == "same page"  # never reloaded
    assert _real_problems(visitor) == []


def test_a_page_whose_missed_changes_were_pruned_reloads(
    visitor: Visitor, site: Site, tmp_path: Path
) -> None:
    name = visitor.register()
    auth = _token(site.base, name)
    _call("POST", f"{site.base}/api/tasks", auth, title="Seen")
    page = visitor.page
    page.goto(f"{site.base}/tasks")
    _connected(page)
    page.evaluate("() => (window.__marker = 'same page')")

    stop_server(site.main)
    _, other = site.start(name="other")
    missed = _call("POST", f"{other}/api/tasks", auth, title="Missed, then pruned")
    app = create_app(base_config(site.database_url, tmp_path))
    with app.app_context():
        assert prune(now=utcnow() + timedelta(days=365))[0] >= 2  # the whole feed
    site.restart()

    # Reloaded once the socket connects again (backoff: up to 30 s between tries).
    page.wait_for_function("() => window.__marker === undefined", timeout=45_000)
    expect(page.locator(f'[data-task-id="{missed["id"]}"] .task-title')).to_have_text(
        "Missed, then pruned"
    )
    _connected(page)
    assert re.search(r"/tasks$", page.url)
    # The feed answered 410 once, as meant; nothing else went wrong.
    assert [p for p in _real_problems(visitor) if "/live/events" not in p] == []
    assert any(p.startswith("410 for ") for p in visitor.problems)


def test_a_list_page_reads_an_event_it_did_not_receive_when_the_next_seq_jumps(
    visitor: Visitor, site: Site
) -> None:
    """An event lost on its way (here: dropped between server and page) shows as a jump
    in the next one's ``seq``; the page reads the gap from the feed and applies it."""
    name = visitor.register()
    auth = _token(site.base, name)
    other = _call("POST", f"{site.base}/api/tasks", auth, title="Other")
    dropped: list[str] = []

    def relay(socket: Any) -> None:
        server = socket.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if isinstance(message, str) and '"task_created"' in message and "Lost" in message:
                dropped.append(message)
                return
            socket.send(message)

        server.on_message(from_server)
        socket.on_message(lambda message: server.send(message))

    page = visitor.page
    page.route_web_socket(re.compile(r"/socket\.io/"), relay)
    page.goto(f"{site.base}/tasks")
    _connected(page)
    page.evaluate("() => (window.__marker = 'same page')")

    lost = _call("POST", f"{site.base}/api/tasks", auth, title="Lost on the way")
    _call("PATCH", f"{site.base}/api/tasks/{other['id']}", auth, title="Other, renamed")

    expect(page.locator(f'[data-task-id="{other["id"]}"] .task-title')).to_have_text(
        "Other, renamed"
    )
    expect(page.locator(f'[data-task-id="{lost["id"]}"] .task-title')).to_have_text(
        "Lost on the way"
    )
    assert len(dropped) == 1
    expect(page.locator("#task-summary")).to_have_text("2 tasks")
    expect(page.locator("#live-notice")).to_be_hidden()
    assert page.evaluate("() => window.__marker") == "same page"
    assert _real_problems(visitor) == []
