"""How writers wait for each other on PostgreSQL (SQLite has one write lock for the
whole database, so neither question arises there): a task locked for a write does not
hold back rows that merely point at it, and a transaction the database rolls back to
break a deadlock is a 409 to retry, not a 500."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.attachments.models import Attachment
from doable.db import begin_write
from doable.errors import ProblemType
from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem


@pytest.fixture
def pg_app(make_app: Any, database_url: str) -> Flask:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks and deadlocks are PostgreSQL's; SQLite locks the database")
    return make_app()  # type: ignore[no-any-return]


def test_a_task_locked_for_a_write_lets_an_attachment_row_point_at_it(pg_app: Flask) -> None:
    api = ApiClient(pg_app.test_client())
    alice: Account = api.account("alice")
    task_id = api.post("/api/tasks", alice.token, json={"title": "Locked"}).get_json()["id"]

    with pg_app.app_context():
        begin_write(db.session, sa.select(Task.id).where(Task.id == task_id))  # held
        with db.engine.connect() as other:
            other.execute(sa.text("SET lock_timeout = '2s'"))
            other.execute(  # its foreign-key check must not wait for the lock above
                sa.insert(Attachment).values(
                    task_id=task_id,
                    user_id=alice.id,
                    filename="a.txt",
                    content_type="text/plain",
                    size=1,
                    sha256="0" * 64,
                    storage_key=uuid.uuid4().hex,
                )
            )
            other.rollback()
        db.session.rollback()


def test_a_transaction_rolled_back_by_the_database_is_409_to_retry(pg_app: Flask) -> None:
    def deadlocked() -> Any:
        # A real error from the server with the deadlock's SQLSTATE.
        db.session.execute(
            sa.text("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$")
        )

    pg_app.add_url_rule("/api/deadlocked", view_func=deadlocked)

    response = pg_app.test_client().get("/api/deadlocked")

    body = assert_problem(response, 409)
    assert body["type"] == ProblemType.CONCURRENT_UPDATE.uri
    assert "retry" in body["detail"]


def test_a_write_to_a_task_the_caller_cannot_see_waits_for_no_lock(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    """The access check comes before the write lock: a stranger's PATCH is 404 at once,
    even while the task's owner holds the lock (on SQLite, the database's write lock)."""
    task_id = api.post("/api/tasks", alice.token, json={"title": "Busy"}).get_json()["id"]
    answered: list[Any] = []

    with app.app_context(), db.engine.connect() as holder:
        if holder.dialect.name == "sqlite":
            holder.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            holder.execute(sa.select(Task.id).where(Task.id == task_id).with_for_update())
        stranger = threading.Thread(
            target=lambda: answered.append(
                api.patch(f"/api/tasks/{task_id}", bob.token, json={"title": "Mine"})
            )
        )
        stranger.start()
        stranger.join(timeout=5)
        finished_while_locked = not stranger.is_alive()
        holder.rollback()
    stranger.join(timeout=30)

    assert finished_while_locked, "the stranger's request waited for the owner's lock"
    assert_problem(answered[0], 404)
