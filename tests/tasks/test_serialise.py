"""A task's JSON is built by ``task_data``, ``TaskRead`` written out for speed (bench/README.md,
issue 15); ``TaskRead`` and ``TaskPage`` stay the documented shapes. These tests hold the two
equal, member for member and in order: a task's body bytes are its ETag.

``GET /api/tasks/<id>`` reads the task as one row (``get_task_row_for``) and writes it with
``task_row_body``; the pages read a ``Task`` (``get_task_for``) and write it with
``task_body``. Both must give the same bytes, and refuse alike. A write (PUT, POST) answers
with no read after it: the row it read (or inserted) merged with what it wrote, written by
``task_row_body``; its bytes must be those of the task read again. ``GET /api/tasks`` reads
its page as rows (``list_task_rows``, written by ``page_body``); the web pages read the same
page as ``Task``s (``list_tasks``): the same tasks, and the bytes the API sent for them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from flask import Flask

from doable.auth.models import User
from doable.db import MAX_ID
from doable.errors import DoableError
from doable.extensions import db
from doable.tasks import service
from doable.tasks.access import Access, get_task_for, get_task_row_for
from doable.tasks.schemas import (
    TaskListQuery,
    TaskPage,
    TaskRead,
    page_body,
    page_data,
    task_body,
    task_data,
    task_row_body,
    task_row_data,
)
from tests.support.factories import Account, ApiClient, share

VARIED = [
    {"title": "Bare"},
    {
        "title": "Everything set",
        "description": 'With a description, ünïcode and "quotes"',
        "status": "in_progress",
        "priority": "high",
        "due_date": "2031-02-28",
        "due_time": "09:30",
        "timezone": "America/Santiago",
        "recurrence": {"rule": "FREQ=MONTHLY;BYDAY=2TU", "mode": "after_completion"},
        "reminders": [{"before_due": "PT30M"}, {"at": "2031-02-27T18:00"}],
        "categories": ["work", "Errands", "b"],
    },
    {"title": "Done", "status": "completed", "priority": "low", "description": ""},
    {
        "title": "Ünïcode ✓ 日本語 🦆 \\ </script>",
        "due_date": "2026-01-01",
        "categories": ["Été", "ärger", "Zebra", "日本", "🦆"],
    },
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
    share(api, alice, ids[3], bob, "edit")
    return ids


def as_user(account: Account) -> User:
    user = db.session.get(User, account.id)
    assert user is not None
    return user


def schema_dump(task: Any) -> str:
    return json.dumps(TaskRead().dump(task), separators=(",", ":"))


@pytest.mark.parametrize("reader", ["alice", "bob"])
def test_a_task_reads_as_the_schema_dumps_it(
    app: Flask, tasks: list[int], alice: Account, bob: Account, reader: str
) -> None:
    account = alice if reader == "alice" else bob
    with app.app_context():
        user = as_user(account)
        visible = tasks if reader == "alice" else tasks[1:]
        for task_id in visible:
            task = service.get_task(user=user, task_id=task_id)
            assert task_body(task) == schema_dump(task).encode()
            assert list(task_data(task)) == list(TaskRead().fields)


@pytest.mark.parametrize("reader", ["alice", "bob"])
def test_a_task_read_as_a_row_has_the_bytes_of_the_task_read_by_the_orm(
    app: Flask, api: ApiClient, tasks: list[int], alice: Account, bob: Account, reader: str
) -> None:
    account = alice if reader == "alice" else bob
    with app.app_context():
        user = as_user(account)
        visible = tasks if reader == "alice" else tasks[1:]
        bodies = {}
        for task_id in visible:
            task = service.get_task(user=user, task_id=task_id)
            row = service.get_task_row(user=user, task_id=task_id)
            assert task_row_data(row) == task_data(task)
            assert task_row_body(row) == task_body(task) == schema_dump(task).encode()
            bodies[task_id] = task_body(task)
        accesses = {task_id: json.loads(body)["access"] for task_id, body in bodies.items()}

    expected = {"alice": ["owner"] * 4, "bob": ["edit", "view", "edit"]}[reader]
    assert [accesses[task_id] for task_id in visible] == expected
    for task_id in visible:  # what the API sends, and the ETag its hash gives
        response = api.get(f"/api/tasks/{task_id}", account.token)
        assert response.get_data() == bodies[task_id]
        again = api.get(
            f"/api/tasks/{task_id}",
            account.token,
            headers={"If-None-Match": response.headers["ETag"]},
        )
        assert again.status_code == 304


#: Every way a read is refused: (reader, which task (an index into ``tasks``, or a
#: name of ``odd_ids``), the access needed, the status refused with).
REFUSALS = [
    ("carol", 0, Access.VIEW, 404),  # alice's, not shared with carol: as if missing
    ("bob", 0, Access.VIEW, 404),  # alice's, not shared with bob
    ("bob", 2, Access.EDIT, 403),  # shared with bob to view
    ("bob", 1, Access.OWNER, 403),  # shared with bob to edit
    ("alice", "missing", Access.VIEW, 404),
    ("alice", "zero", Access.VIEW, 404),
    ("alice", "beyond", Access.VIEW, 404),  # beyond any id the database holds
]


def odd_ids(tasks: list[int]) -> dict[str, int]:
    return {"missing": tasks[-1] + 1000, "zero": 0, "beyond": MAX_ID + 1}


def refusal(read: Callable[[], Any]) -> tuple[type[DoableError], str | None, Any, int]:
    with pytest.raises(DoableError) as refused:
        read()
    error = refused.value
    return type(error), error.detail, error.problem_type, error.status


@pytest.mark.parametrize(("reader", "which", "need", "status"), REFUSALS)
def test_a_task_read_as_a_row_is_refused_as_the_orm_read_is(
    app: Flask,
    api: ApiClient,
    tasks: list[int],
    alice: Account,
    bob: Account,
    reader: str,
    which: int | str,
    need: Access,
    status: int,
) -> None:
    account = {"alice": alice, "bob": bob}.get(reader) or api.account("carol")
    task_id = tasks[which] if isinstance(which, int) else odd_ids(tasks)[which]
    with app.app_context():
        user = as_user(account)
        by_orm = refusal(lambda: get_task_for(user=user, task_id=task_id, need=need))
        by_row = refusal(lambda: get_task_row_for(user=user, task_id=task_id, need=need))

    assert by_row == by_orm
    assert by_row[3] == status


def test_a_page_reads_as_the_schema_dumps_it(
    app: Flask, api: ApiClient, tasks: list[int], bob: Account
) -> None:
    with app.app_context():
        page = service.list_tasks(user=as_user(bob), per_page=5)
        assert {task["access"] for task in page_data(page)["tasks"]} == {"edit", "view"}
        expected = page_data(page)
        assert expected == TaskPage().dump(page)

    response = api.get("/api/tasks?per_page=5", bob.token)
    assert response.get_json() == expected
    assert [task["id"] for task in expected["tasks"]] == [tasks[3], tasks[2], tasks[1]]


#: Bob's lists: his own tasks and alice's shared with him, each page the API and the web
#: pages can ask for, including deep pages read from the end of the list (``_window``)
#: and searches whose matches are in both branches.
PAGES = [
    "",
    "per_page=2",
    "per_page=2&page=2",  # past the middle: read from the end
    "per_page=2&page=3",  # the last page, one task
    "per_page=2&page=2&sort=title",
    "per_page=2&page=3&sort=due_date",  # no due date last, read from the end
    "per_page=2&page=2&sort=-priority",
    "scope=owned",
    "scope=shared&sort=updated_at",
    "status=completed",
    "priority=high",
    "category=WORK",
    "due_before=2030-01-01",
    "q=done",
    "q=done&per_page=1&page=2",
    "page=9",  # past the end: no tasks
]


@pytest.fixture
def bobs_tasks(api: ApiClient, tasks: list[int], bob: Account) -> list[int]:
    """Two tasks of bob's own, one with categories, next to the three shared with him."""
    created = [
        api.post("/api/tasks", bob.token, json={"title": "Bob done", "status": "completed"}),
        api.post("/api/tasks", bob.token, json={"title": "Errand", "categories": ["work"]}),
    ]
    return [response.get_json()["id"] for response in created]


def orm_page_body(page: service.Page[Any]) -> bytes:
    """What ``GET /api/tasks`` sent for a page before it read rows: ``TaskPage`` of the
    page's ``Task``s, by ``jsonify`` (compact, members in order, a final newline)."""
    return (json.dumps(TaskPage().dump(page), separators=(",", ":")) + "\n").encode()


@pytest.mark.parametrize("query", PAGES)
def test_a_page_read_as_rows_has_the_bytes_of_the_page_read_by_the_orm(
    app: Flask, api: ApiClient, bobs_tasks: list[int], bob: Account, query: str
) -> None:
    arguments = TaskListQuery().load(dict(parse_qsl(query)))
    with app.app_context():
        user = as_user(bob)
        by_orm = service.list_tasks(user=user, **arguments)
        by_rows = service.list_task_rows(user=user, **arguments)
        body = page_body(by_rows)
        assert body == orm_page_body(by_orm)
        assert page_data(by_rows, task_row_data) == page_data(by_orm)

    response = api.get(f"/api/tasks?{query}", bob.token)
    assert response.status_code == 200
    assert response.get_data() == body
    assert response.mimetype == "application/json"


def test_the_pages_compared_show_every_kind_of_task(
    app: Flask, bobs_tasks: list[int], tasks: list[int], bob: Account
) -> None:
    """``PAGES`` are worth comparing: owned and shared tasks, with and without
    categories, and searches and deep pages that find some."""
    with app.app_context():
        user = as_user(bob)
        shown = page_data(service.list_task_rows(user=user), task_row_data)["tasks"]
        found = service.list_task_rows(user=user, q="done", per_page=1, page=2)
        last = service.list_task_rows(user=user, per_page=2, page=3)

    assert [task["id"] for task in shown] == [*reversed(bobs_tasks), tasks[3], tasks[2], tasks[1]]
    assert {task["access"] for task in shown} == {"owner", "edit", "view"}
    assert {len(task["categories"]) for task in shown} == {0, 1, 3, 5}
    assert (found.total, [row.id for row in found.tasks]) == (2, [tasks[2]])
    assert [row.id for row in last.tasks] == [tasks[1]]


#: Changes a PUT makes to the ``VARIED`` tasks: fields, categories added, kept, dropped.
CHANGES = [
    {"title": "Renamed", "categories": ["new", "work"]},
    {"status": "completed", "priority": "low", "categories": ["work"]},
    {"description": None, "due_date": "2032-12-31"},
    {"categories": []},
]


def read_again(app: Flask, account: Account, task_id: int) -> bytes:
    with app.app_context():
        task = service.get_task(user=as_user(account), task_id=task_id)
        assert task_body(task) == schema_dump(task).encode()
        return task_body(task)


@pytest.mark.parametrize("writer", ["alice", "bob"])
def test_a_written_task_answers_with_the_bytes_of_the_task_read_again(
    app: Flask, api: ApiClient, tasks: list[int], alice: Account, bob: Account, writer: str
) -> None:
    account = alice if writer == "alice" else bob
    writable = [0, 1, 2, 3] if writer == "alice" else [1, 3]  # bob may edit two of them
    for index in writable:
        response = api.put(f"/api/tasks/{tasks[index]}", account.token, json=CHANGES[index])
        assert response.status_code == 200
        assert response.get_data() == read_again(app, account, tasks[index])
        again = api.get(
            f"/api/tasks/{tasks[index]}",
            account.token,
            headers={"If-None-Match": response.headers["ETag"]},
        )
        assert again.status_code == 304


@pytest.mark.parametrize("fields", VARIED, ids=lambda fields: fields["title"][:8])
def test_a_created_task_answers_with_the_bytes_of_the_task_read_again(
    app: Flask, api: ApiClient, alice: Account, fields: dict[str, Any]
) -> None:
    response = api.post("/api/tasks", alice.token, json=fields)
    assert response.status_code == 201
    assert response.get_data() == read_again(app, alice, response.get_json()["id"])
