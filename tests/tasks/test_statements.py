"""How many SQL statements each hot request runs (docs/tutorial.md, "Every hot request
runs a fixed number of statements"): a fixed number, the same whether the user has 3
tasks or 60.

A request is counted as a whole, from its start to its response: every statement the
app sends through its engine, for the caller's authentication and the use case. The
real-time events go after the response, from the fan-out queue
(``doable.realtime.fanout``), and are not counted: the queue is drained before and after
the counted request. A transaction's ``COMMIT`` is not a statement here (the driver
sends it), SQLite's ``BEGIN IMMEDIATE`` is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from doable.extensions import db
from tests.support.factories import Account, ApiClient
from tests.support.realtime import sent
from tests.support.tasks import create, insert_tasks

# Per request: (SQLite, PostgreSQL). Each list names the statements in order.

# The caller costs nothing: their login session was checked by the warm-up request,
# and this process keeps it (``doable.auth.logins``). A login's first request in a
# process adds one statement, the caller with their login session (FIRST_REQUEST).

#: The task as they see it (access, categories).
GET_ONE = (1, 1)
#: The total per visibility branch (owned from the owner's counter, shared counted);
#: the page's rows with their owners, access and category names.
LIST_FIRST_PAGE = (2, 2)
#: The same two: with filters, the owned tasks are counted instead of the counter read.
LIST_FILTERED_PAGE = (2, 2)
#: The same two: the page's rows are cut from the index at the offset, not fetched.
LIST_LAST_PAGE = (2, 2)
#: Whether they may edit the task (PostgreSQL: and its row lock); SQLite only:
#: ``BEGIN IMMEDIATE``; the task as they see it; the UPDATE; and the change feed's
#: (``doable.changes.log``): the change, then its viewers' feeds numbered and their
#: entries (one statement on PostgreSQL, two on SQLite).
PUT_ONE_FIELD = (7, 5)
#: The INSERT; the owner's task counter; the change feed's, as for a PUT.
POST = (5, 4)
#: Whether they own the task (PostgreSQL: and its row lock); SQLite only:
#: ``BEGIN IMMEDIATE``; the task as they see it; who it is shared with; its
#: attachments' stored files; the DELETE (its categories and shares go by ON DELETE
#: CASCADE); the owner's task counter; the change feed's three. The notifier sends to the
#: audience read before the delete and reads nothing.
DELETE = (10, 9)
#: A login's first request in this process: the caller with their login session, then
#: the task as they see it.
FIRST_REQUEST = (2, 2)

PER_PAGE = 10


@pytest.fixture(params=[3, 60], ids=lambda count: f"{count}_tasks")
def owner(request: pytest.FixtureRequest, api: ApiClient, app: Flask) -> Account:
    """Alice with 3 or 60 tasks, and her task counter started (as after any create)."""
    alice = api.account("alice")
    insert_tasks(app, alice.id, request.param - 1)
    create(api, alice)
    return alice


def counted(app: Flask, statements: list[str], send: Callable[[], Any]) -> int:
    """The statements of one request, ``send``, after the same request has warmed up."""
    response = send()
    assert response.status_code < 300, response.get_json()
    sent(app)
    statements.clear()
    response = send()
    count = len(statements)
    assert response.status_code < 300, response.get_json()
    assert statements, "the listener saw no statements"
    sent(app)
    return count


def expected(app: Flask, counts: tuple[int, int]) -> int:
    with app.app_context():
        return counts[0] if db.engine.dialect.name == "sqlite" else counts[1]


def listing(statements: list[str]) -> str:
    """The statements, one a line, to read in a failure."""
    return "\n".join(" ".join(statement.split())[:160] for statement in statements)


def task_ids(api: ApiClient, account: Account) -> list[int]:
    response = api.get("/api/tasks?per_page=100", account.token)
    return [task["id"] for task in response.get_json()["tasks"]]


def test_get_one(api: ApiClient, app: Flask, statements: list[str], owner: Account) -> None:
    task_id = task_ids(api, owner)[-1]

    count = counted(app, statements, lambda: api.get(f"/api/tasks/{task_id}", owner.token))

    assert count == expected(app, GET_ONE), listing(statements)


def test_first_request_of_a_login_checks_it(
    api: ApiClient, app: Flask, statements: list[str], owner: Account
) -> None:
    task_id = task_ids(api, owner)[-1]
    fresh = api.login(username=owner.username, password=owner.password).json["token"]
    statements.clear()

    response = api.get(f"/api/tasks/{task_id}", fresh)

    assert response.status_code == 200
    assert len(statements) == expected(app, FIRST_REQUEST), listing(statements)
    assert "auth_session" in statements[0]


@pytest.mark.parametrize(
    ("query", "counts"),
    [
        ("", LIST_FIRST_PAGE),
        ("status=pending&priority=low", LIST_FILTERED_PAGE),
        ("page=last", LIST_LAST_PAGE),
    ],
    ids=["first", "filtered", "last"],
)
def test_list_page(
    api: ApiClient,
    app: Flask,
    statements: list[str],
    owner: Account,
    query: str,
    counts: tuple[int, int],
) -> None:
    if query == "page=last":
        total = api.get("/api/tasks", owner.token).get_json()["total"]
        query = f"page={math.ceil(total / PER_PAGE)}"

    count = counted(
        app, statements, lambda: api.get(f"/api/tasks?per_page={PER_PAGE}&{query}", owner.token)
    )

    assert count == expected(app, counts), listing(statements)


def test_put_one_field(api: ApiClient, app: Flask, statements: list[str], owner: Account) -> None:
    task_id = task_ids(api, owner)[-1]
    titles = iter(["First", "Second"])

    count = counted(
        app,
        statements,
        lambda: api.put(f"/api/tasks/{task_id}", owner.token, json={"title": next(titles)}),
    )

    assert count == expected(app, PUT_ONE_FIELD), listing(statements)


def test_post(api: ApiClient, app: Flask, statements: list[str], owner: Account) -> None:
    count = counted(
        app, statements, lambda: api.post("/api/tasks", owner.token, json={"title": "New"})
    )

    assert count == expected(app, POST), listing(statements)


def test_delete(api: ApiClient, app: Flask, statements: list[str], owner: Account) -> None:
    doomed = iter(task_ids(api, owner)[:2])

    count = counted(app, statements, lambda: api.delete(f"/api/tasks/{next(doomed)}", owner.token))

    assert count == expected(app, DELETE), listing(statements)


@pytest.mark.parametrize(
    ("query", "reads"),
    [("", (1, 1)), ("status=pending", (0, 0)), ("q=task", (1, 0))],
    ids=["unfiltered", "filtered", "searched"],
)
def test_a_list_reads_the_owner_s_task_counter_only_where_it_is_used(
    api: ApiClient,
    app: Flask,
    statements: list[str],
    owner: Account,
    query: str,
    reads: tuple[int, int],
) -> None:
    """Unfiltered, the counter is the owned total; searched on SQLite, it tells the page
    how to read the matches (``service._Counted.scans``: PostgreSQL's planner chooses
    that itself); filtered, nothing uses it."""
    counted(app, statements, lambda: api.get(f"/api/tasks?{query}", owner.token))

    counter_reads = sum(statement.count("FROM task_count") for statement in statements)
    assert counter_reads == expected(app, reads), listing(statements)
