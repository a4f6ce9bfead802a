"""The navigation's unread count and the notifications page follow the socket: a
reminder fired by the server's worker shows on an open page without a reload, on a
task page (whose socket is the task pages' own) and on the notifications page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from doable import create_app
from doable.extensions import db
from tests.conftest import base_config
from tests.support.reminders import schedule
from tests.support.servers import running_server, server_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('notifications') / 'doable.sqlite3'}"


@pytest.fixture(scope="module")
def server(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with its worker, polling every 0.2 s (reminders written by the test's
    own app reach it by the database alone)."""
    tmp = tmp_path_factory.mktemp("serve")
    env = server_env(
        database, tmp, DOABLE_RATELIMIT_ENABLED="false", DOABLE_WORKER_POLL_INTERVAL="0.2"
    )
    with running_server(env, "--with-worker", log_path=tmp / "serve.log") as base:
        yield base


def remind_now(database: str, tmp_path: Path, task_id: int, minutes_ago: int = 0) -> None:
    """Give the task a reminder due this minute (or a few minutes ago, within the
    grace): the server's worker fires it."""
    now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
    now -= timedelta(minutes=minutes_ago)
    app: Any = create_app(base_config(database, tmp_path))
    at = now.strftime("%Y-%m-%dT%H:%M")
    schedule(app, task_id, due_date=now.date(), reminders=[{"at": at}])
    with app.app_context():
        db.engine.dispose()


def test_a_new_notification_counts_on_an_open_task_page_and_lists_on_its_page(
    visitors: Any, database: str, tmp_path: Path
) -> None:
    alice = visitors()
    alice.register()
    page = alice.page
    task_id = alice.create_task("Stretch")
    badge = page.locator("#unread-count")
    expect(badge).to_be_hidden()
    expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=10_000)

    remind_now(database, tmp_path, task_id)
    expect(badge).to_have_text("1", timeout=10_000)
    expect(badge).to_be_visible()

    page.goto(f"{alice.base}/notifications")
    expect(page.locator(".notification")).to_have_count(1)
    expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=10_000)
    page.evaluate("() => (window.__marker = 'same page')")
    remind_now(database, tmp_path, task_id, minutes_ago=1)  # another reminder: another notice
    expect(page.locator(".notification")).to_have_count(2, timeout=10_000)
    expect(badge).to_have_text("2")
    assert page.evaluate("() => window.__marker") == "same page"  # never reloaded

    page.get_by_role("button", name="Mark all read").click()
    expect(badge).to_be_hidden()
