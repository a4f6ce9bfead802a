"""GET /api/tasks (docs/api.md, Tasks): every filter, sort and page, checked against an independent
computation over a varied data set; every bad parameter refused; a constant number of
SQL statements whatever the page size."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

from tests.support.factories import Account, ApiClient, assert_problem, expected_order, share
from tests.support.tasks import get_list, ids, insert_tasks, set_timestamps

ENVELOPE = {"tasks", "total", "page", "per_page", "pages"}
STATUSES = ["pending", "in_progress", "completed"]
PRIORITIES = ["low", "medium", "high"]
# Mixed case, repeated ignoring case (ties are broken by id), one word each so the
# order does not hang on how a collation treats spaces.
TITLES = ["apple", "Banana", "cherry", "Apple", "DATE", "elderberry", "fig", "Grape", "APPLE"]
BASE_TIME = datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC)
ALICE_TASKS = 45


# --- the data set ----------------------------------------------------------------------


def today() -> date:
    return datetime.now(UTC).date()


def due_dates() -> list[date | None]:
    now = today()
    offsets = [None, -30, -1, 0, 1, 7, None, -2, 0]
    return [None if days is None else now + timedelta(days=days) for days in offsets]


@dataclass(frozen=True)
class Row:
    """What we know about one of alice's tasks, kept apart from the API's answers."""

    id: int
    title: str
    status: str
    priority: str
    due_date: date | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DataSet:
    alice: Account
    bob: Account
    rows: list[Row]
    bob_ids: set[int]


def spread_timestamps(app: Flask, task_ids: list[int]) -> dict[int, tuple[datetime, datetime]]:
    """Give tasks created_at/updated_at out of id order, with some ties."""
    times: dict[int, tuple[datetime, datetime]] = {}
    for n, task_id in enumerate(task_ids):
        created = BASE_TIME + timedelta(minutes=(n * 17) % 23)
        updated = BASE_TIME + timedelta(days=1, minutes=(n * 7) % 19)
        times[task_id] = (created, updated)
    set_timestamps(app, times)
    return times


def create_tasks(api: ApiClient, account: Account, count: int) -> list[dict[str, Any]]:
    dues = due_dates()
    created = []
    for n in range(count):
        due = dues[n % len(dues)]
        body = {
            "title": TITLES[n % len(TITLES)],
            "status": STATUSES[n % len(STATUSES)],
            "priority": PRIORITIES[(n // 2) % len(PRIORITIES)],
            "due_date": due.isoformat() if due else None,
        }
        response = api.post("/api/tasks", account.token, json=body)
        assert response.status_code == 201, response.get_json()
        created.append(response.get_json())
    return created


@pytest.fixture
def data(api: ApiClient, app: Flask) -> DataSet:
    alice = api.account("alice")
    bob = api.account("bob")
    # bob's tasks come first and in between, so ids alone cannot tell the owners apart.
    bobs = create_tasks(api, bob, 6)
    alices = create_tasks(api, alice, ALICE_TASKS // 2)
    bobs += create_tasks(api, bob, 6)
    alices += create_tasks(api, alice, ALICE_TASKS - ALICE_TASKS // 2)
    times = spread_timestamps(app, [task["id"] for task in alices + bobs])
    rows = [
        Row(
            id=task["id"],
            title=task["title"],
            status=task["status"],
            priority=task["priority"],
            due_date=date.fromisoformat(task["due_date"]) if task["due_date"] else None,
            created_at=times[task["id"]][0],
            updated_at=times[task["id"]][1],
        )
        for task in alices
    ]
    return DataSet(alice, bob, rows, {task["id"] for task in bobs})


# --- the independent computation --------------------------------------------------------


def is_overdue(row: Row) -> bool:
    return row.due_date is not None and row.due_date < today() and row.status != "completed"


def select_rows(rows: list[Row], params: dict[str, str]) -> list[Row]:
    tests: dict[str, Callable[[Row, str], bool]] = {
        "status": lambda row, value: row.status == value,
        "priority": lambda row, value: row.priority == value,
        "due_before": lambda row, value: (
            row.due_date is not None and row.due_date <= date.fromisoformat(value)
        ),
        "due_after": lambda row, value: (
            row.due_date is not None and row.due_date >= date.fromisoformat(value)
        ),
        "overdue": lambda row, value: is_overdue(row) == (value == "true"),
        "scope": lambda row, value: value in ("all", "owned"),
    }
    chosen = [row for row in rows if all(tests[k](row, v) for k, v in params.items() if k in tests)]
    return expected_order(chosen, params.get("sort", "-created_at"))


def assert_listing(response: Any, expected: list[Row], page: int, per_page: int) -> list[int]:
    """The response is the right page of ``expected``; returns its ids."""
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ENVELOPE
    start = (page - 1) * per_page
    assert [task["id"] for task in body["tasks"]] == ids(expected[start : start + per_page])
    assert body["total"] == len(expected)
    assert (body["page"], body["per_page"]) == (page, per_page)
    assert body["pages"] == math.ceil(len(expected) / per_page)
    return [task["id"] for task in body["tasks"]]


# --- the data set itself is varied enough for the checks below to mean something -----


def test_data_set_covers_every_value_and_tie(data: DataSet) -> None:
    rows = data.rows
    assert len(rows) == ALICE_TASKS
    assert {row.status for row in rows} == set(STATUSES)
    assert {row.priority for row in rows} == set(PRIORITIES)
    assert {row.due_date for row in rows} == set(due_dates())
    assert any(is_overdue(row) for row in rows)
    assert any(
        row.status == "completed" and row.due_date and row.due_date < today() for row in rows
    )
    assert len({row.created_at for row in rows}) < len(rows)  # ties on created_at
    assert ids(expected_order(rows, "created_at")) != sorted(ids(rows))  # not id order
    assert len({row.title.lower() for row in rows}) < len({row.title for row in rows})


# --- filters and sorts ----------------------------------------------------------------

FILTERS: list[dict[str, str]] = [
    {"status": "pending"},
    {"status": "in_progress"},
    {"status": "completed"},
    {"priority": "low"},
    {"priority": "medium"},
    {"priority": "high"},
    {"overdue": "true"},
    {"overdue": "false"},
    {"scope": "all"},
    {"scope": "owned"},
    {"scope": "shared"},
]


@pytest.mark.parametrize("params", FILTERS, ids=[urlencode(p) for p in FILTERS])
def test_list_filter_returns_exactly_the_matching_tasks(
    api: ApiClient, data: DataSet, params: dict[str, str]
) -> None:
    query = {**params, "per_page": 100}

    response = get_list(api, data.alice, query)

    assert_listing(response, select_rows(data.rows, query), 1, 100)


@pytest.mark.parametrize(
    ("name", "days"),
    [("due_before", 0), ("due_before", -1), ("due_after", 0), ("due_after", 1)],
    ids=["before-today", "before-yesterday", "after-today", "after-tomorrow"],
)
def test_list_due_bound_includes_tasks_due_on_the_bound(
    api: ApiClient, data: DataSet, name: str, days: int
) -> None:
    bound = (today() + timedelta(days=days)).isoformat()
    query = {name: bound, "per_page": 100}
    expected = select_rows(data.rows, query)
    assert any(row.due_date and row.due_date.isoformat() == bound for row in expected)

    response = get_list(api, data.alice, query)

    returned = assert_listing(response, expected, 1, 100)
    assert all(task_id not in data.bob_ids for task_id in returned)


def test_list_due_range_returns_tasks_between_bounds_inclusive(
    api: ApiClient, data: DataSet
) -> None:
    query = {
        "due_after": (today() - timedelta(days=1)).isoformat(),
        "due_before": (today() + timedelta(days=1)).isoformat(),
        "per_page": 100,
    }
    expected = select_rows(data.rows, query)
    assert {row.due_date for row in expected} == {
        today() - timedelta(days=1),
        today(),
        today() + timedelta(days=1),
    }

    response = get_list(api, data.alice, query)

    assert_listing(response, expected, 1, 100)


SORTS = [
    f"{sign}{key}"
    for key in ["created_at", "updated_at", "due_date", "priority", "title"]
    for sign in ["", "-"]
]


@pytest.mark.parametrize("sort", SORTS)
def test_list_sort_orders_every_task_with_id_tiebreak(
    api: ApiClient, data: DataSet, sort: str
) -> None:
    query = {"sort": sort, "per_page": 100}

    response = get_list(api, data.alice, query)

    assert_listing(response, expected_order(data.rows, sort), 1, 100)


@pytest.mark.parametrize("sort", ["due_date", "-due_date"])
def test_list_sort_by_due_date_puts_undated_tasks_last(
    api: ApiClient, data: DataSet, sort: str
) -> None:
    response = get_list(api, data.alice, {"sort": sort, "per_page": 100})

    assert response.status_code == 200
    dues = [task["due_date"] for task in response.get_json()["tasks"]]
    undated = dues.count(None)
    assert undated > 0
    assert dues[-undated:] == [None] * undated
    assert None not in dues[:-undated]


COMBINATIONS: list[dict[str, str]] = [
    {"status": "pending", "priority": "high", "sort": "title"},
    {"overdue": "true", "sort": "-due_date"},
    {"overdue": "false", "priority": "medium", "sort": "due_date"},
    {"status": "completed", "overdue": "true"},
    {"status": "in_progress", "scope": "owned", "sort": "-updated_at"},
    {"priority": "low", "due_after": "TODAY-2", "due_before": "TODAY+7", "sort": "-priority"},
    {"status": "pending", "due_before": "TODAY", "sort": "-title"},
    {"scope": "shared", "status": "pending"},
]


def resolve_dates(params: dict[str, str]) -> dict[str, str]:
    """Turn ``TODAY±n`` placeholders into dates (the data set moves with the clock)."""
    resolved = {}
    for key, value in params.items():
        if value.startswith("TODAY"):
            offset = int(value[5:] or 0)
            value = (today() + timedelta(days=offset)).isoformat()
        resolved[key] = value
    return resolved


@pytest.mark.parametrize("params", COMBINATIONS, ids=[urlencode(p) for p in COMBINATIONS])
def test_list_combined_parameters_apply_all_of_them(
    api: ApiClient, data: DataSet, params: dict[str, str]
) -> None:
    query = {**resolve_dates(params), "per_page": 100}

    response = get_list(api, data.alice, query)

    assert_listing(response, select_rows(data.rows, query), 1, 100)


def test_list_never_shows_other_users_tasks(api: ApiClient, data: DataSet) -> None:
    response = get_list(api, data.bob, {"per_page": 100})

    assert response.status_code == 200
    body = response.get_json()
    assert {task["id"] for task in body["tasks"]} == data.bob_ids
    assert {task["owner"]["id"] for task in body["tasks"]} == {data.bob.id}
    assert body["total"] == len(data.bob_ids)


def test_list_rows_carry_the_full_representation(api: ApiClient, data: DataSet) -> None:
    first = data.rows[0]

    response = get_list(api, data.alice, {"per_page": 100})

    listed = {task["id"]: task for task in response.get_json()["tasks"]}
    single = api.get(f"/api/tasks/{first.id}", data.alice.token).get_json()
    assert listed[first.id] == single
    assert listed[first.id]["access"] == "owner"
    assert listed[first.id]["created_at"] == first.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("sort", SORTS)
def test_list_walking_every_page_returns_each_task_once_in_order(
    api: ApiClient, data: DataSet, sort: str
) -> None:
    # Pages past the middle are read from the end of the list (service._window): every
    # page of both halves, the partial last one (45 = 6 x 7 + 3) and ties included.
    expected = expected_order(data.rows, sort)
    pages = math.ceil(len(expected) / 7)
    seen: list[int] = []

    for page in range(1, pages + 1):
        response = get_list(api, data.alice, {"sort": sort, "per_page": 7, "page": page})
        seen += assert_listing(response, expected, page, 7)

    assert seen == ids(expected)
    assert len(set(seen)) == len(data.rows)


FILTERED_SORTS = [
    (sort, {"status": "pending"} if n % 2 else {"overdue": "false"}) for n, sort in enumerate(SORTS)
]


@pytest.mark.parametrize(
    ("sort", "params"), FILTERED_SORTS, ids=[f"{s}-{urlencode(p)}" for s, p in FILTERED_SORTS]
)
def test_list_walking_filtered_pages_matches_the_list_read_from_its_start(
    api: ApiClient, data: DataSet, sort: str, params: dict[str, str]
) -> None:
    query = {**params, "sort": sort}
    expected = select_rows(data.rows, query)
    whole = get_list(api, data.alice, {**query, "per_page": 100})
    assert_listing(whole, expected, 1, 100)  # one page: read from its start

    for per_page in (2, 4):
        for page in range(1, math.ceil(len(expected) / per_page) + 1):
            response = get_list(api, data.alice, {**query, "per_page": per_page, "page": page})
            assert_listing(response, expected, page, per_page)


@pytest.mark.parametrize("sort", SORTS)
def test_list_walking_owned_and_shared_pages_matches_the_list_read_from_its_start(
    api: ApiClient, data: DataSet, sort: str
) -> None:
    # Shared tasks make two sorted runs that the page merges, from either end.
    shared = sorted(data.bob_ids)[::2]
    for task_id in shared:
        share(api, data.bob, task_id, data.alice, "view")
    whole = get_list(api, data.alice, {"sort": sort, "per_page": 100}).get_json()
    assert whole["total"] == ALICE_TASKS + len(shared)

    walked: list[int] = []
    for page in range(1, math.ceil(whole["total"] / 5) + 1):
        response = get_list(api, data.alice, {"sort": sort, "per_page": 5, "page": page})
        assert response.get_json()["total"] == whole["total"]
        walked += [task["id"] for task in response.get_json()["tasks"]]

    assert walked == [task["id"] for task in whole["tasks"]]


@pytest.mark.parametrize("page", [8, 1000])
def test_list_page_past_the_end_returns_200_empty_with_total(
    api: ApiClient, data: DataSet, page: int
) -> None:
    response = get_list(api, data.alice, {"per_page": 7, "page": page})

    assert response.status_code == 200
    assert response.get_json() == {
        "tasks": [],
        "total": ALICE_TASKS,
        "page": page,
        "per_page": 7,
        "pages": math.ceil(ALICE_TASKS / 7),
    }


def test_list_without_parameters_uses_defaults(api: ApiClient, data: DataSet) -> None:
    response = api.get("/api/tasks", data.alice.token)

    assert_listing(response, expected_order(data.rows, "-created_at"), 1, 10)
    assert response.get_json()["pages"] == math.ceil(ALICE_TASKS / 10)


def test_list_new_user_returns_empty_envelope(api: ApiClient) -> None:
    carol = api.account("carol")

    response = api.get("/api/tasks", carol.token)

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == ENVELOPE
    assert (body["tasks"], body["total"], body["page"], body["per_page"]) == ([], 0, 1, 10)


# --- bad parameters ---------------------------------------------------------------------

BAD_PARAMETERS = {
    "status=bogus": "status",
    "priority=urgent": "priority",
    "sort=owner": "sort",
    "sort=--title": "sort",
    "sort=title,id": "sort",
    "page=0": "page",
    "page=-1": "page",
    "page=abc": "page",
    "per_page=0": "per_page",
    "per_page=101": "per_page",
    "per_page=abc": "per_page",
    "due_before=2026-02-30": "due_before",
    "due_after=tomorrow": "due_after",
    "overdue=yes": "overdue",
    "scope=everyone": "scope",
    "foo=1": "foo",
    "status=pending&status=completed": "status",
}


@pytest.mark.parametrize(("query", "name"), BAD_PARAMETERS.items(), ids=list(BAD_PARAMETERS))
def test_list_bad_parameter_returns_400_naming_it(api: ApiClient, query: str, name: str) -> None:
    alice = api.account("alice")

    response = api.get(f"/api/tasks?{query}", alice.token)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {name}
    assert problem["errors"][name]
    assert "tasks" not in problem


def test_list_several_bad_parameters_names_every_one(api: ApiClient) -> None:
    alice = api.account("alice")

    response = api.get("/api/tasks?status=bogus&page=0&sort=owner&foo=1", alice.token)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {"status", "page", "sort", "foo"}


# --- statements per request -------------------------------------------------------------


@pytest.mark.parametrize("sort", ["-created_at", "title", "due_date"])
def test_list_statement_count_does_not_grow_with_page_size(
    api: ApiClient, app: Flask, statements: list[str], sort: str
) -> None:
    alice = api.account("alice")
    insert_tasks(app, alice.id, 130)
    counts = {}

    for per_page in (5, 50, 100):
        query = {"per_page": per_page, "sort": sort}
        assert get_list(api, alice, query).status_code == 200  # warm up caches
        statements.clear()
        response = get_list(api, alice, query)
        assert response.status_code == 200
        assert len(response.get_json()["tasks"]) == per_page
        assert response.get_json()["total"] == 130
        counts[per_page] = len(statements)

    assert counts[5] > 0, "the listener saw no statements"
    assert counts[5] == counts[50] == counts[100], counts


# --- hostile queries -------------------------------------------------------------


# Found by schemathesis (tests/test_fuzz.py).
def test_a_url_too_long_is_a_414_problem_not_gunicorn_s_html_page(api: ApiClient, alice):
    """Repeated query parameters made a 7,650-character URL; gunicorn answered it with
    an HTML 414 of its own. Doable now takes request lines up to gunicorn's maximum and
    refuses URLs over DOABLE_MAX_URL_LENGTH itself."""
    response = api.get("/api/tasks?" + "&".join(["page=1"] * 800), alice.token)
    body = assert_problem(response, 414)
    assert "at most 4096" in body["detail"]
    assert api.get("/api/tasks?" + "&".join(["page=1"] * 2), alice.token).status_code == 400


@pytest.mark.parametrize("query", ["q=a%00b", "category=a%00", "status=pending&q=%00"])
def test_list_query_with_nul_returns_400_naming_the_parameter(
    api: ApiClient, alice: Account, query: str
) -> None:
    response = api.get(f"/api/tasks?{query}", alice.token)
    errors = assert_problem(response, 400)["errors"]
    assert set(errors) <= {"q", "category"}
    assert errors
