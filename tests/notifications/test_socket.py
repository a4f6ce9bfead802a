"""A reminder fired by the worker inside a real ``doable serve --with-worker`` reaches
the owner's python-socketio client as a ``notification`` event, their list and their
mailbox (a real SMTP server), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.support.realtime import listen, new_user
from tests.support.servers import running_server, server_env
from tests.support.smtp import SmtpServer


@pytest.fixture(params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: SmtpServer
) -> Iterator[tuple[str, str]]:
    """A server with its worker, polling every 0.2 s (nothing wakes it across processes
    without Redis); its base URL and database URL."""
    dropped = None
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'doable.sqlite3'}"
    else:
        admin = request.getfixturevalue("postgres_admin_engine")
        dropped, database_url = _create_postgres_database(admin)
    env = server_env(
        database_url,
        tmp_path,
        DOABLE_WORKER_POLL_INTERVAL="0.2",
        **{f"DOABLE_{key}": str(value) for key, value in smtp.settings.items()},
    )
    try:
        with running_server(env, "--with-worker", log_path=tmp_path / "serve.log") as base:
            yield base, database_url
    finally:
        if dropped is not None:
            _drop_postgres_database(request.getfixturevalue("postgres_admin_engine"), dropped)


def test_a_fired_reminder_is_pushed_listed_and_emailed(
    served: tuple[str, str], smtp: SmtpServer
) -> None:
    base, _ = served
    user = new_user(base)
    listener = listen(user)
    now = datetime.now(UTC)
    body = {
        "title": "Stretch",
        "due_date": now.date().isoformat(),
        "reminders": [{"at": now.strftime("%Y-%m-%dT%H:%M")}],  # the owner's zone: UTC
    }
    try:
        task = user.call("POST", "/api/tasks", json=body).json()
        assert listener.expect("task_created")["id"] == task["id"]
        data = listener.expect("notification")  # fired by the server's worker
    finally:
        listener.close()

    assert data["title"] == "Reminder: Stretch"
    assert data["task_id"] == task["id"]
    assert data["kind"] == "reminder"
    assert data["seq"] >= 1
    listed = user.call("GET", "/api/notifications").json()
    assert [n["id"] for n in listed["notifications"]] == [data["id"]]
    assert listed["unread"] == 1
    [email] = smtp.wait_for(1)
    assert email.recipients == [user.email]
    assert email.subject == "Reminder: Stretch"
    assert f"Due {now:%a %d %b %Y} (UTC)" in email.body  # a date alone: no time
