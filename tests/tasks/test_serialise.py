"""A task's JSON is built by ``task_data``, ``TaskRead`` written out for speed (bench/README.md,
issue 15); ``TaskRead`` and ``TaskPage`` stay the documented shapes. These tests hold the two
equal, member for member and in order: a task's body bytes are its ETag."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from doable.tasks import service
from doable.tasks.schemas import TaskPage, TaskRead, page_data, task_body, task_data
from tests.support.factories import Account, ApiClient, share

VARIED = [
    {"title": "Bare"},
    {
        "title": "Everything set",
        "description": 'With a description, ünïcode and "quotes"',
        "status": "in_progress",
        "priority": "high",
        "due_date": "2031-02-28",
        "categories": ["work", "Errands", "b"],
    },
    {"title": "Done", "status": "completed", "priority": "low", "description": ""},
]


@pytest.fixture
def tasks(api: ApiClient, alice: Account, bob: Account) -> list[int]:
    ids = []
    for fields in VARIED:
        response = api.post("/api/tasks", alice.token, json=fields)
        assert response.status_code == 201
        ids.append(response.get_json()["id"])
    share(api, alice, ids[1], bob, "edit")
    share(api, alice, ids[2], bob, "view")
    return ids


def schema_dump(task: Any) -> str:
    return json.dumps(TaskRead().dump(task), separators=(",", ":"))


@pytest.mark.parametrize("reader", ["alice", "bob"])
def test_a_task_reads_as_the_schema_dumps_it(
    app: Flask, tasks: list[int], alice: Account, bob: Account, reader: str
) -> None:
    account = alice if reader == "alice" else bob
    with app.app_context():
        user = db.session.get(User, account.id)
        assert user is not None
        visible = tasks if reader == "alice" else tasks[1:]
        for task_id in visible:
            task = service.get_task(user=user, task_id=task_id)
            assert task_body(task) == schema_dump(task).encode()
            assert list(task_data(task)) == list(TaskRead().fields)


def test_a_page_reads_as_the_schema_dumps_it(
    app: Flask, api: ApiClient, tasks: list[int], bob: Account
) -> None:
    with app.app_context():
        user = db.session.get(User, bob.id)
        assert user is not None
        page = service.list_tasks(user=user, per_page=5)
        assert {task["access"] for task in page_data(page)["tasks"]} == {"edit", "view"}
        expected = page_data(page)
        assert expected == TaskPage().dump(page)

    response = api.get("/api/tasks?per_page=5", bob.token)
    assert response.get_json() == expected
    assert [task["id"] for task in expected["tasks"]] == [tasks[2], tasks[1]]
