"""``scope`` with sharing (docs/api.md, Tasks and Sharing): GET /api/tasks returns
exactly the tasks the caller may see (owned, shared with them, or both), each with the
caller's ``access``, correct totals and stable pages, checked against an independent
computation; and a constant number of SQL statements whatever the owners and categories
on the page."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

from doable.auth.models import User
from doable.categories.models import Category
from doable.extensions import db
from doable.sharing.models import Share
from doable.tasks.models import Priority, Task
from tests.support.factories import Account, ApiClient, expected_order, share
from tests.support.tasks import get_list, ids, set_timestamps

ENVELOPE = {"tasks", "total", "page", "per_page", "pages"}
STATUSES = ["pending", "in_progress", "completed"]
PRIORITIES = ["low", "medium", "high"]
# One word each, repeated ignoring case across owners, so title ties cross the branches.
TITLES = ["apple", "Banana", "cherry", "Apple", "DATE", "fig", "banana"]
BASE_TIME = datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC)
DUE_DATES: list[date | None] = [None, date(2026, 3, 1), date(2026, 3, 5), date(2026, 3, 1), None]
ALICE_TASKS, BOB_TASKS, CAROL_TASKS = 15, 10, 5
#: bob's tasks (by position) he shares with alice, and how.
BOB_SHARES = {0: "view", 2: "edit", 3: "view", 5: "edit", 7: "view", 9: "edit"}


# --- the data set ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """What we know about one task, kept apart from the API's answers."""

    id: int
    owner: str
    title: str
    description: str
    status: str
    priority: str
    due_date: date | None
    created_at: datetime
    updated_at: datetime
    categories: frozenset[str]
    access: str | None  # alice's right on it


@dataclass(frozen=True)
class DataSet:
    alice: Account
    bob: Account
    carol: Account
    rows: list[Row]  # every task, whoever owns it
    shared_with_carol: set[int]  # bob's tasks shared with carol (one also with alice)


def make_tasks(api: ApiClient, account: Account, count: int, offset: int) -> list[dict[str, Any]]:
    created = []
    for n in range(offset, offset + count):
        due = DUE_DATES[n % len(DUE_DATES)]
        body = {
            "title": TITLES[n % len(TITLES)],
            "description": "weekly review" if n % 4 == 0 else "",
            "status": STATUSES[n % len(STATUSES)],
            "priority": PRIORITIES[(n // 2) % len(PRIORITIES)],
            "due_date": due.isoformat() if due else None,
            "categories": ["Work"] if n % 3 == 0 else [],
        }
        response = api.post("/api/tasks", account.token, json=body)
        assert response.status_code == 201, response.get_json()
        created.append(response.get_json())
    return created


def spread_timestamps(app: Flask, task_ids: list[int]) -> dict[int, tuple[datetime, datetime]]:
    """created_at/updated_at out of id order, with ties across owners."""
    times = {
        task_id: (
            BASE_TIME + timedelta(minutes=(n * 7) % 11),
            BASE_TIME + timedelta(days=1, minutes=(n * 5) % 13),
        )
        for n, task_id in enumerate(task_ids)
    }
    set_timestamps(app, times)
    return times


@pytest.fixture
def data(api: ApiClient, app: Flask) -> DataSet:
    alice, bob, carol = api.account("alice"), api.account("bob"), api.account("carol")
    # Owners interleave, so ids alone cannot tell owned from shared.
    made = {
        "bob": make_tasks(api, bob, 5, 0),
        "alice": make_tasks(api, alice, 8, 0),
        "carol": make_tasks(api, carol, CAROL_TASKS, 0),
    }
    made["bob"] += make_tasks(api, bob, BOB_TASKS - 5, 5)
    made["alice"] += make_tasks(api, alice, ALICE_TASKS - 8, 8)
    access: dict[int, str] = {task["id"]: "owner" for task in made["alice"]}
    for position, permission in BOB_SHARES.items():
        task_id = made["bob"][position]["id"]
        share(api, bob, task_id, alice, permission)
        access[task_id] = permission
    # Shares with carol must not reach alice; one of these tasks is shared with both.
    for task in (made["bob"][1], made["bob"][2]):
        share(api, bob, task["id"], carol, "edit")
    every = [(owner, task) for owner, tasks in made.items() for task in tasks]
    times = spread_timestamps(app, sorted(task["id"] for _, task in every))
    rows = [
        Row(
            id=task["id"],
            owner=owner,
            title=task["title"],
            description=task["description"],
            status=task["status"],
            priority=task["priority"],
            due_date=date.fromisoformat(task["due_date"]) if task["due_date"] else None,
            created_at=times[task["id"]][0],
            updated_at=times[task["id"]][1],
            categories=frozenset(task["categories"]),
            access=access.get(task["id"]),
        )
        for owner, task in every
    ]
    carols = {made["bob"][1]["id"], made["bob"][2]["id"]}
    return DataSet(alice, bob, carol, rows, carols)


# --- the independent computation --------------------------------------------------------


def visible(rows: list[Row], scope: str) -> list[Row]:
    wanted = {
        "all": {"owner", "view", "edit"},
        "owned": {"owner"},
        "shared": {"view", "edit"},
    }[scope]
    return [row for row in rows if row.access in wanted]


def expected(rows: list[Row], params: dict[str, str]) -> list[Row]:
    tests: dict[str, Callable[[Row, str], bool]] = {
        "status": lambda row, value: row.status == value,
        "priority": lambda row, value: row.priority == value,
        "category": lambda row, value: value.lower() in {c.lower() for c in row.categories},
        "due_before": lambda row, value: (
            row.due_date is not None and row.due_date <= date.fromisoformat(value)
        ),
    }
    chosen = [
        row
        for row in visible(rows, params.get("scope", "all"))
        if all(tests[key](row, value) for key, value in params.items() if key in tests)
    ]
    return expected_order(chosen, params.get("sort", "-created_at"))


def assert_listing(response: Any, want: list[Row], page: int, per_page: int) -> list[int]:
    """The response is the right page of ``want``, with the right access; returns its ids."""
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == ENVELOPE
    start = (page - 1) * per_page
    chunk = want[start : start + per_page]
    assert [task["id"] for task in body["tasks"]] == ids(chunk)
    assert [task["access"] for task in body["tasks"]] == [row.access for row in chunk]
    assert body["total"] == len(want)
    assert (body["page"], body["per_page"]) == (page, per_page)
    assert body["pages"] == math.ceil(len(want) / per_page)
    return [task["id"] for task in body["tasks"]]


# --- the data set itself is varied enough for the checks below to mean something -----


def test_data_set_mixes_owners_permissions_and_ties(data: DataSet) -> None:
    rows = data.rows
    assert len(rows) == ALICE_TASKS + BOB_TASKS + CAROL_TASKS
    assert len(visible(rows, "owned")) == ALICE_TASKS
    assert {row.access for row in visible(rows, "shared")} == {"view", "edit"}
    assert len(visible(rows, "shared")) == len(BOB_SHARES)
    # ties on created_at between an owned and a shared task
    owned_times = {row.created_at for row in visible(rows, "owned")}
    assert owned_times & {row.created_at for row in visible(rows, "shared")}
    # owned and shared ids interleave
    all_ids = sorted(ids(visible(rows, "all")))
    assert all_ids != sorted(ids(visible(rows, "owned"))) + sorted(ids(visible(rows, "shared")))
    assert any(row.due_date is None for row in visible(rows, "shared"))
    assert any(row.categories for row in visible(rows, "shared"))


# --- exactly the visible set ----------------------------------------------------------


@pytest.mark.parametrize("scope", ["all", "owned", "shared"])
def test_list_scope_returns_exactly_the_visible_tasks_with_access(
    api: ApiClient, data: DataSet, scope: str
) -> None:
    query = {"scope": scope, "per_page": 100}

    response = get_list(api, data.alice, query)

    assert_listing(response, expected(data.rows, query), 1, 100)


def test_list_without_scope_means_all(api: ApiClient, data: DataSet) -> None:
    response = get_list(api, data.alice, {"per_page": 100})

    assert_listing(response, expected(data.rows, {"scope": "all"}), 1, 100)


def test_list_shared_scope_shows_each_tasks_real_owner(api: ApiClient, data: DataSet) -> None:
    response = get_list(api, data.alice, {"scope": "shared", "per_page": 100})

    owners = {task["owner"]["username"] for task in response.get_json()["tasks"]}
    assert owners == {"bob"}


@pytest.mark.parametrize("scope", ["all", "owned", "shared"])
def test_list_scope_of_another_sharee_returns_only_their_tasks(
    api: ApiClient, data: DataSet, scope: str
) -> None:
    carols = {row.id for row in data.rows if row.owner == "carol"}
    want = {
        "all": carols | data.shared_with_carol,
        "owned": carols,
        "shared": data.shared_with_carol,
    }[scope]

    response = get_list(api, data.carol, {"scope": scope, "per_page": 100})

    assert response.status_code == 200
    body = response.get_json()
    assert {task["id"] for task in body["tasks"]} == want
    assert body["total"] == len(want)
    shared_access = {task["access"] for task in body["tasks"] if task["id"] not in carols}
    assert shared_access <= {"edit"}


def test_list_shared_rows_equal_the_single_task_representation(
    api: ApiClient, data: DataSet
) -> None:
    response = get_list(api, data.alice, {"scope": "shared", "per_page": 100})

    for task in response.get_json()["tasks"]:
        single = api.get(f"/api/tasks/{task['id']}", data.alice.token)
        assert single.status_code == 200
        assert single.get_json() == task


# --- pages ----------------------------------------------------------------------------

SORTS = ["-created_at", "created_at", "title", "-title", "due_date", "-due_date", "priority"]
PAGE_CASES = [(scope, sort) for scope in ["all", "shared", "owned"] for sort in SORTS]


@pytest.mark.parametrize(("scope", "sort"), PAGE_CASES, ids=[f"{a}-{b}" for a, b in PAGE_CASES])
def test_list_walking_every_page_returns_each_visible_task_once_in_order(
    api: ApiClient, data: DataSet, scope: str, sort: str
) -> None:
    want = expected(data.rows, {"scope": scope, "sort": sort})
    pages = math.ceil(len(want) / 4)
    seen: list[int] = []

    for page in range(1, pages + 1):
        query = {"scope": scope, "sort": sort, "per_page": 4, "page": page}
        seen += assert_listing(get_list(api, data.alice, query), want, page, 4)

    assert seen == ids(want)
    assert len(set(seen)) == len(want)


@pytest.mark.parametrize("scope", ["all", "shared"])
def test_list_page_past_the_end_returns_empty_page_with_total(
    api: ApiClient, data: DataSet, scope: str
) -> None:
    total = len(visible(data.rows, scope))
    page = math.ceil(total / 4) + 1

    response = get_list(api, data.alice, {"scope": scope, "per_page": 4, "page": page})

    assert response.status_code == 200
    assert response.get_json() == {
        "tasks": [],
        "total": total,
        "page": page,
        "per_page": 4,
        "pages": math.ceil(total / 4),
    }


# --- filters with scope -----------------------------------------------------------------

COMBINATIONS: list[dict[str, str]] = [
    {"scope": "shared", "status": "pending"},
    {"scope": "shared", "priority": "high", "sort": "title"},
    {"scope": "all", "status": "completed", "sort": "-due_date"},
    {"scope": "all", "category": "work", "sort": "created_at"},
    {"scope": "shared", "category": "WORK"},
    {"scope": "owned", "category": "Work", "status": "pending"},
    {"scope": "all", "due_before": "2026-03-01", "sort": "-priority"},
    {"scope": "shared", "due_before": "2026-03-04", "priority": "medium"},
]


@pytest.mark.parametrize("params", COMBINATIONS, ids=[urlencode(p) for p in COMBINATIONS])
def test_list_filters_combine_with_scope(
    api: ApiClient, data: DataSet, params: dict[str, str]
) -> None:
    query = {**params, "per_page": 100}
    want = expected(data.rows, query)

    response = get_list(api, data.alice, query)

    assert_listing(response, want, 1, 100)


def test_list_filter_combinations_are_not_all_empty(data: DataSet) -> None:
    sizes = [len(expected(data.rows, params)) for params in COMBINATIONS]
    assert all(size > 0 for size in sizes), sizes
    assert any(
        0 < size < len(visible(data.rows, p["scope"]))
        for size, p in zip(sizes, COMBINATIONS, strict=True)
    )


@pytest.mark.parametrize("scope", ["all", "shared", "owned"])
def test_list_q_combines_with_scope(api: ApiClient, data: DataSet, scope: str) -> None:
    query = {"scope": scope, "q": "weekly", "per_page": 100}
    visible_rows = expected_order(visible(data.rows, scope), "-created_at")
    want = [row for row in visible_rows if "weekly" in row.description]
    assert 0 < len(want) < len(visible_rows)

    response = get_list(api, data.alice, query)

    assert_listing(response, want, 1, 100)


# --- statements per request -------------------------------------------------------------


def insert_shared_world(app: Flask, alice_id: int, owners: int, per_owner: int) -> None:
    """``owners`` other users, each sharing ``per_owner`` tasks with alice, and every
    task (alice's too) with four categories of its owner."""
    with app.app_context():
        alice = db.session.get(User, alice_id)
        users = [alice] + [
            User(username=f"owner{n}", email=f"owner{n}@example.com", password_hash="x")
            for n in range(owners)
        ]
        db.session.add_all(users)
        db.session.flush()
        for n, user in enumerate(users):
            categories = [Category(user_id=user.id, name=f"c{n}-{k}") for k in range(4)]
            for k in range(per_owner):
                task = Task(
                    user_id=user.id,
                    owner=user,
                    title=f"task {n}-{k}",
                    priority=Priority((n + k) % 3 + 1),
                    due_date=date(2026, 1, 1) + timedelta(days=k) if k % 2 else None,
                )
                task.categories = categories
                db.session.add(task)
                db.session.flush()
                if user is not alice:
                    permission = "edit" if k % 2 else "view"
                    db.session.add(Share(task_id=task.id, user_id=alice_id, permission=permission))
        db.session.commit()


@pytest.mark.parametrize("sort", ["-created_at", "title", "due_date"])
def test_list_scope_all_statement_count_does_not_grow_with_owners_or_categories(
    api: ApiClient, app: Flask, statements: list[str], sort: str
) -> None:
    alice = api.account("alice")
    insert_shared_world(app, alice.id, owners=30, per_owner=2)
    counts = {}

    for per_page in (5, 50):
        query = {"scope": "all", "per_page": per_page, "sort": sort}
        assert get_list(api, alice, query).status_code == 200  # warm up caches
        statements.clear()
        response = get_list(api, alice, query)
        counts[per_page] = len(statements)
        assert response.status_code == 200
        tasks = response.get_json()["tasks"]
        assert len(tasks) == per_page
        assert response.get_json()["total"] == 62
        if per_page == 50:
            assert len({task["owner"]["id"] for task in tasks}) >= 20
            assert len({name for task in tasks for name in task["categories"]}) >= 80
            assert {task["access"] for task in tasks} >= {"view", "edit"}

    assert counts[5] > 0, "the listener saw no statements"
    assert counts[5] == counts[50], counts


def test_list_scope_shared_statement_count_does_not_grow_with_shared_tasks(
    api: ApiClient, app: Flask, statements: list[str]
) -> None:
    alice = api.account("alice")
    insert_shared_world(app, alice.id, owners=40, per_owner=2)
    counts = {}

    for per_page in (5, 60):
        query = {"scope": "shared", "per_page": per_page}
        assert get_list(api, alice, query).status_code == 200  # warm up caches
        statements.clear()
        response = get_list(api, alice, query)
        counts[per_page] = len(statements)
        assert response.status_code == 200
        assert len(response.get_json()["tasks"]) == per_page
        assert response.get_json()["total"] == 80

    assert counts[5] > 0, "the listener saw no statements"
    assert counts[5] == counts[60], counts
