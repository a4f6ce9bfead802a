"""A write that changes nothing writes nothing (docs/api.md, Tasks): one rule in the task
service, so the API and the edit page agree. The task keeps its ``updated_at`` and ETag,
and nobody is told it changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from doable import signals
from doable.changes.log import Committed
from tests.support.factories import Account, ApiClient, stored_task
from tests.support.pages import Browser

TASK = {
    "title": "Write the report",
    "description": "Numbers for Q3",
    "status": "in_progress",
    "priority": "high",
    "due_date": "2030-01-31",
    "categories": ["work", "Q3"],
}
#: The same task as the edit form sends it (priority by label, categories in one field).
FORM = {**TASK, "categories": "q3, Work"}


@pytest.fixture
def task(api: ApiClient, alice: Account) -> dict[str, Any]:
    response = api.post("/api/tasks", alice.token, json=TASK)
    assert response.status_code == 201
    return response.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def updates(app: Flask) -> Iterator[list[int]]:
    """Ids of the tasks announced as updated while the test runs."""
    seen: list[int] = []

    def record(sender: Any, changes: list[Committed], **_: Any) -> None:
        seen.extend(c.recorded.entity_id for c in changes if c.recorded.action == "updated")

    with signals.changes_committed.connected_to(record, sender=app):
        yield seen


@pytest.mark.parametrize("method", ["put", "patch"])
def test_an_api_write_of_the_same_values_keeps_the_task_as_it_was(
    app: Flask,
    api: ApiClient,
    alice: Account,
    task: dict[str, Any],
    updates: list[int],
    method: str,
) -> None:
    before = api.get(f"/api/tasks/{task['id']}", alice.token)
    stored_before = stored_task(app, task["id"])

    same = {**TASK, "categories": ["q3", "WORK"]}  # categories ignore case and order
    response = getattr(api, method)(f"/api/tasks/{task['id']}", alice.token, json=same)

    assert response.status_code == 200
    assert response.get_json() == before.get_json()
    assert response.headers["ETag"] == before.headers["ETag"]
    assert stored_task(app, task["id"]) == stored_before
    assert updates == []


def test_a_stale_if_match_on_a_write_already_applied_is_200_not_412(
    app: Flask, api: ApiClient, alice: Account, task: dict[str, Any], updates: list[int]
) -> None:
    path = f"/api/tasks/{task['id']}"
    stale = api.get(path, alice.token).headers["ETag"]
    assert api.patch(path, alice.token, json={"title": "Renamed"}).status_code == 200
    current = api.get(path, alice.token)

    response = api.patch(path, alice.token, json={"title": "Renamed"}, headers={"If-Match": stale})

    assert response.status_code == 200
    assert response.headers["ETag"] == current.headers["ETag"]
    assert updates == [task["id"]]  # the first rename only


def test_a_write_that_changes_one_field_moves_the_version_and_is_announced(
    app: Flask, api: ApiClient, alice: Account, task: dict[str, Any], updates: list[int]
) -> None:
    before = api.get(f"/api/tasks/{task['id']}", alice.token)

    response = api.patch(
        f"/api/tasks/{task['id']}", alice.token, json={**TASK, "status": "completed"}
    )

    assert response.status_code == 200
    assert response.get_json()["status"] == "completed"
    assert response.headers["ETag"] != before.headers["ETag"]
    assert updates == [task["id"]]


def test_saving_the_edit_form_unchanged_writes_nothing_and_says_so(
    app: Flask,
    browse: Callable[..., Browser],
    alice: Account,
    task: dict[str, Any],
    updates: list[int],
) -> None:
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    version = page.split('id="version" name="version" type="hidden" value="', 1)[1]
    stored_before = stored_task(app, task["id"])

    response = browser.post(f"/tasks/{task['id']}", {**FORM, "version": version.split('"', 1)[0]})

    assert response.status_code == 302
    shown = browser.get(response.location).get_data(as_text=True)
    assert "Nothing to save: the task already looks like that." in shown
    assert stored_task(app, task["id"]) == stored_before
    assert updates == []
