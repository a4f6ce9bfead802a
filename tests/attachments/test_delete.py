"""Deleting attachments, and their tasks and accounts: stored files go when, and only
when, their rows' deletion is committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from doable.attachments.models import Attachment
from doable.tasks.models import Task
from tests.support.attachments import (
    attachments_path,
    download,
    files_under,
    new_task,
    row,
    rows,
    stored_path,
    upload_dir,
    uploaded,
)
from tests.support.factories import Account, ApiClient, assert_problem, share


@contextmanager
def failing_flush(kind: type) -> Iterator[None]:
    """Make every flush that deletes a ``kind`` fail after its SQL ran: the commit
    fails and the transaction is rolled back, as after a lost connection."""

    def fail(session: Session, flush_context: Any) -> None:
        if any(isinstance(obj, kind) for obj in session.deleted):
            raise RuntimeError("database went away during commit")

    sa.event.listen(Session, "after_flush", fail)
    try:
        yield
    finally:
        sa.event.remove(Session, "after_flush", fail)


# --- delete ------------------------------------------------------------------------------


def test_delete_attachment_returns_204_and_removes_its_row_and_file_only(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    gone = uploaded(api, alice.token, task_id, content=b"gone")
    kept = uploaded(api, alice.token, task_id, content=b"kept")
    gone_path = stored_path(app, row(app, gone["id"])["storage_key"])
    kept_path = stored_path(app, row(app, kept["id"])["storage_key"])

    response = api.delete(attachments_path(task_id, gone["id"]), alice.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert [r["id"] for r in rows(app)] == [kept["id"]]
    assert not gone_path.exists()
    assert files_under(upload_dir(app)) == [kept_path]
    assert_problem(download(api, alice.token, task_id, gone["id"]), 404)


def test_delete_attachment_twice_returns_404(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id)
    assert api.delete(attachments_path(task_id, body["id"]), alice.token).status_code == 204

    response = api.delete(attachments_path(task_id, body["id"]), alice.token)

    assert_problem(response, 404)
    assert rows(app) == []


def test_delete_attachment_through_another_task_returns_404_and_keeps_it(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id)
    other_task = new_task(api, alice, "Other")
    before = rows(app)

    response = api.delete(attachments_path(other_task, body["id"]), alice.token)

    assert_problem(response, 404)
    assert rows(app) == before
    assert stored_path(app, before[0]["storage_key"]).exists()


def test_delete_attachment_whose_commit_fails_returns_500_and_keeps_row_and_file(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, content=b"survivor")
    before = rows(app)
    path = stored_path(app, before[0]["storage_key"])

    with failing_flush(Attachment):
        response = api.delete(attachments_path(task_id, body["id"]), alice.token)
    uploaded(api, alice.token, task_id, content=b"a later commit")

    assert_problem(response, 500)
    assert rows(app)[0] == before[0]
    assert path.read_bytes() == b"survivor"
    assert download(api, alice.token, task_id, body["id"]).get_data() == b"survivor"


# --- deleting tasks and accounts -------------------------------------------------------


def test_delete_task_removes_its_attachments_rows_and_files(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    uploaded(api, alice.token, task_id, content=b"one")
    uploaded(api, alice.token, task_id, content=b"two")
    other_task = new_task(api, alice, "Other")
    kept = uploaded(api, alice.token, other_task, content=b"other task")
    kept_path = stored_path(app, row(app, kept["id"])["storage_key"])

    response = api.delete(f"/api/tasks/{task_id}", alice.token)

    assert response.status_code == 204
    assert [(r["id"], r["task_id"]) for r in rows(app)] == [(kept["id"], other_task)]
    assert files_under(upload_dir(app)) == [kept_path]


def test_delete_task_whose_commit_fails_keeps_its_attachments_and_files(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    uploaded(api, alice.token, task_id, content=b"one")
    before_rows, before_files = rows(app), files_under(upload_dir(app))

    with failing_flush(Task):
        response = api.delete(f"/api/tasks/{task_id}", alice.token)

    assert_problem(response, 500)
    assert rows(app) == before_rows
    assert files_under(upload_dir(app)) == before_files
    assert api.get(f"/api/tasks/{task_id}", alice.token).status_code == 200


def test_delete_account_removes_the_files_of_all_its_tasks(
    app: Flask, api: ApiClient, alice: Account, bob: Account, task_id: int
) -> None:
    second_task = new_task(api, alice, "Second")
    uploaded(api, alice.token, task_id, content=b"a1")
    uploaded(api, alice.token, second_task, content=b"a2")
    bobs_task = new_task(api, bob, "Bob's")
    kept = uploaded(api, bob.token, bobs_task, content=b"bob's")
    kept_path = stored_path(app, row(app, kept["id"])["storage_key"])

    response = api.delete("/api/me", alice.token, json={"current_password": alice.password})

    assert response.status_code == 204
    assert [r["id"] for r in rows(app)] == [kept["id"]]
    assert files_under(upload_dir(app)) == [kept_path]


def test_delete_account_of_edit_sharee_keeps_their_uploads_on_the_owners_task(
    app: Flask, api: ApiClient, alice: Account, bob: Account, task_id: int
) -> None:
    share(api, alice, task_id, bob, "edit")
    body = uploaded(api, bob.token, task_id, content=b"bob's contribution")
    path = stored_path(app, row(app, body["id"])["storage_key"])

    response = api.delete("/api/me", bob.token, json={"current_password": bob.password})

    assert response.status_code == 204
    assert row(app, body["id"])["user_id"] is None
    assert path.read_bytes() == b"bob's contribution"
    assert download(api, alice.token, task_id, body["id"]).get_data() == b"bob's contribution"
