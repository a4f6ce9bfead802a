"""Live updates: a change made through the API shows on an open page without a reload."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Visitor
from tests.conftest import service_missing
from tests.faults.conftest import RedisServer
from tests.support.factories import PASSWORD
from tests.support.servers import running_server, server_env

LIVE = 10_000  # ms: what the socket brings, as long as the data-live waits
pytestmark = pytest.mark.slow


def _token(base: str, username: str) -> dict[str, str]:
    login = requests.post(
        f"{base}/api/login", json={"username": username, "password": PASSWORD}, timeout=10
    )
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _connected(page: Any) -> None:
    expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=10_000)


def test_list_page_shows_tasks_created_changed_and_deleted_through_the_api(
    visitors: Any, server: str
) -> None:
    alice = visitors()
    name = alice.register()
    auth = _token(server, name)
    page = alice.page
    page.goto(f"{server}/tasks")
    _connected(page)
    marker = page.evaluate("() => (window.__marker = 'same page')")

    created = requests.post(
        f"{server}/api/tasks",
        json={"title": "Made elsewhere", "priority": "high", "categories": ["live"]},
        headers=auth,
        timeout=10,
    ).json()
    row = page.locator(f'[data-task-id="{created["id"]}"]')
    expect(row.locator(".task-title")).to_have_text("Made elsewhere", timeout=LIVE)
    expect(row.locator("[data-field=priority]")).to_have_text("High priority")
    expect(page.locator("#task-summary")).to_have_text("1 task")

    requests.patch(
        f"{server}/api/tasks/{created['id']}",
        json={"title": "Changed elsewhere", "status": "completed", "due_date": "2020-01-01"},
        headers=auth,
        timeout=10,
    ).raise_for_status()
    expect(row.locator(".task-title")).to_have_text("Changed elsewhere", timeout=LIVE)
    expect(row.locator("[data-field=status]")).to_have_text("Completed")
    expect(row).to_have_class("task-row is-done")
    requests.patch(
        f"{server}/api/tasks/{created['id']}", json={"status": "pending"}, headers=auth, timeout=10
    ).raise_for_status()
    expect(row).to_have_class("task-row is-overdue", timeout=LIVE)
    expect(row.locator(".overdue-flag")).to_have_text("Overdue")

    requests.delete(f"{server}/api/tasks/{created['id']}", headers=auth, timeout=10)
    expect(row).to_have_count(0, timeout=LIVE)
    assert page.evaluate("() => window.__marker") == marker  # never reloaded


def test_task_page_follows_changes_and_says_when_it_is_unshared(visitors: Any, server: str) -> None:
    owner, guest = visitors(), visitors()
    owner_name, guest_name = owner.register(), guest.register()
    auth = _token(server, owner_name)
    task = requests.post(
        f"{server}/api/tasks", json={"title": "Shared plan"}, headers=auth, timeout=10
    ).json()
    guest.page.goto(f"{server}/tasks")
    _connected(guest.page)

    requests.post(
        f"{server}/api/tasks/{task['id']}/share",
        json={"username": guest_name, "permission": "view"},
        headers=auth,
        timeout=10,
    ).raise_for_status()
    expect(guest.page.locator("#live-notice")).to_be_visible(timeout=LIVE)
    expect(guest.page.locator("#live-notice")).to_contain_text("New tasks are available.")

    guest.page.goto(f"{server}/tasks/{task['id']}")
    _connected(guest.page)
    requests.patch(
        f"{server}/api/tasks/{task['id']}",
        json={"title": "Shared plan, v2", "description": "Now with details"},
        headers=auth,
        timeout=10,
    ).raise_for_status()
    expect(guest.page.get_by_role("heading", level=1)).to_have_text("Shared plan, v2", timeout=LIVE)
    expect(guest.page.locator("[data-field=description]")).to_have_text("Now with details")

    requests.delete(
        f"{server}/api/tasks/{task['id']}/share/{_user_id(server, guest_name)}",
        headers=auth,
        timeout=10,
    ).raise_for_status()
    expect(guest.page.locator("#live-notice")).to_contain_text(
        "no longer shared with you", timeout=LIVE
    )


def _user_id(base: str, username: str) -> int:
    me = requests.get(f"{base}/api/me", headers=_token(base, username), timeout=10)
    return int(me.json()["id"])


def test_page_socket_of_a_revoked_login_is_refused_and_stops_retrying(
    visitors: Any, server: str
) -> None:
    alice = visitors()
    name = alice.register()
    page = alice.page
    page.goto(f"{server}/tasks")
    _connected(page)

    requests.patch(
        f"{server}/api/me",
        json={"current_password": PASSWORD, "password": "another passphrase"},
        headers=_token(server, name),
        timeout=10,
    ).raise_for_status()  # ends every login of alice, this browser's too

    expect(page.locator("html")).to_have_attribute("data-live", "refused", timeout=15_000)


def test_page_socket_refused_while_redis_is_away_retries_and_comes_back(
    browser: Any, tmp_path: Path
) -> None:
    """Redis briefly away: the server refuses new sockets with ``retry: true``;
    static/live/socket.js keeps trying with backoff instead of giving up, and is live
    again once Redis is."""
    binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin")
    if not binary:
        service_missing("redis-server is not installed")
    (tmp_path / "redis").mkdir()
    own_redis = RedisServer(str(binary), tmp_path / "redis")
    own_redis.start()
    env = server_env(
        f"sqlite:///{tmp_path / 'doable.sqlite3'}",
        tmp_path,
        REDIS_URL=own_redis.url,
        DOABLE_RATELIMIT_ENABLED="false",
    )
    try:
        with running_server(env, log_path=tmp_path / "serve.log") as base:
            alice = Visitor(browser.new_context(), base)
            try:
                name = alice.register()
                auth = _token(base, name)
                own_redis.stop()
                alice.page.goto(f"{base}/tasks")
                # Refused for now, told to retry: it waits and tries again, never "refused".
                expect(alice.page.locator("html")).to_have_attribute(
                    "data-live", "waiting", timeout=10_000
                )
                own_redis.start()
                expect(alice.page.locator("html")).to_have_attribute(
                    "data-live", "connected", timeout=45_000
                )
                # Live for real: a change made elsewhere shows up. The server's own Redis
                # subscription reconnects on a backoff of its own, so changes are made
                # until one arrives (bounded).
                deadline = time.monotonic() + 30
                shown = alice.page.locator(".task-row")
                while shown.count() == 0:
                    assert time.monotonic() < deadline, "no live update after Redis came back"
                    requests.post(
                        f"{base}/api/tasks",
                        json={"title": "After the blip"},
                        headers=auth,
                        timeout=10,
                    ).raise_for_status()
                    with contextlib.suppress(AssertionError):
                        expect(shown.first).to_be_visible(timeout=1_000)
                expect(shown.first.locator(".task-title")).to_have_text("After the blip")
                assert alice.problems == []
            finally:
                alice.context.close()
    finally:
        own_redis.stop()
