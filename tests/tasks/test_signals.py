"""The changes a task write logs, as ``signals.changes_committed`` delivers them: once,
after the commit, and none for a refused write."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.signals import Event, SignalRecorder, recording
from tests.support.tasks import create

# --- domain signals --------------------------------------------------------------------


def committed_title(connection: sa.Connection, task_id: int) -> str | None:
    return connection.execute(sa.select(Task.title).where(Task.id == task_id)).scalar_one_or_none()


@pytest.fixture
def recorder() -> Iterator[SignalRecorder]:
    with recording(committed_title) as recorder:
        yield recorder


def test_create_sends_created_once_after_commit(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder
) -> None:
    task = create(api, alice, title="Signal me")

    assert recorder.events == [Event("created", app, task["id"], [alice.id], "Signal me")]


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_sends_updated_once_after_commit(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder, method: str
) -> None:
    task = create(api, alice, title="old title")
    recorder.events.clear()

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, json={"title": "new title"}
    )

    assert response.status_code == 200
    assert recorder.events == [Event("updated", app, task["id"], [alice.id], "new title")]


def test_delete_sends_deleted_once_after_commit(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder
) -> None:
    task = create(api, alice)
    recorder.events.clear()

    response = api.delete(f"/api/tasks/{task['id']}", alice.token)

    assert response.status_code == 204
    assert recorder.events == [Event("deleted", app, task["id"], [alice.id], None)]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_refused_by_stale_if_match_sends_no_signal(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder, method: str
) -> None:
    task = create(api, alice)
    recorder.events.clear()
    kwargs = {} if method == "delete" else {"json": {"title": "lost update"}}

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, headers={"If-Match": '"stale"'}, **kwargs
    )

    assert_problem(response, 412)
    assert recorder.events == []


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_refused_by_validation_sends_no_signal(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder, method: str
) -> None:
    task = create(api, alice)
    recorder.events.clear()

    response = getattr(api, method)(
        f"/api/tasks/{task['id']}", alice.token, json={"title": "", "status": "done"}
    )

    assert_problem(response, 400)
    assert recorder.events == []


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_to_other_users_task_sends_no_signal(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    recorder: SignalRecorder,
    method: str,
) -> None:
    bobs = create(api, bob)
    recorder.events.clear()
    kwargs = {} if method == "delete" else {"json": {"title": "Alice was here"}}

    response = getattr(api, method)(f"/api/tasks/{bobs['id']}", alice.token, **kwargs)

    assert_problem(response, 404)
    assert recorder.events == []
