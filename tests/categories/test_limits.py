"""Categories stay bounded: at most DOABLE_MAX_CATEGORIES_PER_USER per owner, whoever
creates them (the owner, or an edit sharee naming new ones on a task), and the list is
paged like the task list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.categories.models import Category, task_category
from doable.errors import ProblemType
from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem, at_once

LIMIT = 6


@pytest.fixture
def capped(make_app: Callable[..., Flask]) -> Flask:
    return make_app(MAX_CATEGORIES_PER_USER=LIMIT)


@pytest.fixture
def api(capped: Flask) -> ApiClient:
    return ApiClient(capped.test_client())


def names(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Category.name).order_by(Category.id)))


def links(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(task_category)) or 0


def titles(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Task.title).order_by(Task.id)))


def fill(api: ApiClient, account: Account, count: int = LIMIT) -> None:
    for number in range(count):
        response = api.post("/api/categories", account.token, json={"name": f"c{number}"})
        assert response.status_code == 201, response.get_json()


def assert_over_the_limit(response: Any) -> None:
    body = assert_problem(response, 409)
    assert body["type"] == ProblemType.CATEGORY_LIMIT_REACHED.uri
    assert body["limit"] == LIMIT
    assert f"At most {LIMIT} categories per user" in body["detail"]


def test_create_category_at_the_limit_returns_409_naming_it_and_creates_nothing(
    api: ApiClient, capped: Flask, alice: Account
) -> None:
    fill(api, alice)

    response = api.post("/api/categories", alice.token, json={"name": "one more"})

    assert_over_the_limit(response)
    assert names(capped) == [f"c{n}" for n in range(LIMIT)]


def test_the_limit_is_per_owner(api: ApiClient, capped: Flask, alice: Account, bob: Account):
    fill(api, alice)

    response = api.post("/api/categories", bob.token, json={"name": "c0"})

    assert response.status_code == 201


def test_create_task_with_new_names_past_the_limit_returns_409_and_creates_nothing(
    api: ApiClient, capped: Flask, alice: Account
) -> None:
    fill(api, alice, LIMIT - 1)

    response = api.post(
        "/api/tasks",
        alice.token,
        json={"title": "Flood", "categories": ["c0", "new1", "new2"]},
    )

    assert_over_the_limit(response)
    assert names(capped) == [f"c{n}" for n in range(LIMIT - 1)]
    assert titles(capped) == []
    assert links(capped) == 0


def test_create_task_at_the_limit_with_existing_names_in_any_case_returns_201(
    api: ApiClient, capped: Flask, alice: Account
) -> None:
    fill(api, alice)

    response = api.post("/api/tasks", alice.token, json={"title": "Fine", "categories": ["C0"]})

    assert response.status_code == 201
    assert response.get_json()["categories"] == ["c0"]
    assert names(capped) == [f"c{n}" for n in range(LIMIT)]


def test_update_task_by_edit_sharee_past_the_owners_limit_returns_409_and_changes_nothing(
    api: ApiClient, capped: Flask, alice: Account, bob: Account
) -> None:
    fill(api, alice, LIMIT - 1)
    task = api.post("/api/tasks", alice.token, json={"title": "Shared", "categories": ["c0"]})
    task_id = task.get_json()["id"]
    body = {"username": "bob", "permission": "edit"}
    assert api.post(f"/api/tasks/{task_id}/share", alice.token, json=body).status_code == 201

    response = api.patch(
        f"/api/tasks/{task_id}",
        bob.token,
        json={"title": "Renamed", "categories": [f"spam{n}" for n in range(20)]},
    )

    assert_over_the_limit(response)
    assert names(capped) == [f"c{n}" for n in range(LIMIT - 1)]
    assert titles(capped) == ["Shared"]
    assert api.get(f"/api/tasks/{task_id}", alice.token).get_json()["categories"] == ["c0"]


# --- GET /api/categories paging ------------------------------------------------------


@pytest.fixture
def five(api: ApiClient, alice: Account) -> list[str]:
    made = ["e", "B", "a", "D", "c"]
    for name in made:
        assert api.post("/api/categories", alice.token, json={"name": name}).status_code == 201
    return sorted(made, key=str.lower)


def listing(api: ApiClient, account: Account, query: str = "") -> Any:
    return api.get(f"/api/categories{query}", account.token)


def test_list_categories_default_is_the_first_100_with_paging_fields(
    api: ApiClient, alice: Account, five: list[str]
) -> None:
    response = listing(api, alice)

    assert response.status_code == 200
    body = response.get_json()
    assert [c["name"] for c in body["categories"]] == five
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (5, 1, 100, 1)


def test_list_categories_pages_walk_every_category_once_in_name_order(
    api: ApiClient, alice: Account, five: list[str]
) -> None:
    seen = []
    for page in (1, 2, 3):
        body = listing(api, alice, f"?page={page}&per_page=2").get_json()
        assert (body["total"], body["page"], body["per_page"], body["pages"]) == (5, page, 2, 3)
        seen += [c["name"] for c in body["categories"]]

    assert seen == five


def test_list_categories_page_past_the_end_is_empty_with_the_total(
    api: ApiClient, alice: Account, five: list[str]
) -> None:
    body = listing(api, alice, "?page=4&per_page=2").get_json()

    assert body == {"categories": [], "total": 5, "page": 4, "per_page": 2, "pages": 3}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?per_page=101", "per_page"),
        ("?per_page=0", "per_page"),
        ("?page=0", "page"),
        ("?page=1&page=2", "page"),  # given twice, as on every list
    ],
)
def test_list_categories_bad_paging_returns_400_naming_it(
    api: ApiClient, alice: Account, query: str, field: str
) -> None:
    body = assert_problem(listing(api, alice, query), 400)

    assert field in body["errors"]


def test_openapi_documents_category_paging(api: ApiClient) -> None:
    spec = api.client.get("/api/openapi.json").get_json()
    operation = spec["paths"]["/api/categories"]["get"]

    assert {p["name"] for p in operation["parameters"]} >= {"page", "per_page"}


def test_racing_creates_never_pass_the_limit(capped: Flask, api: ApiClient, alice: Account):
    """Each create counts the owner's categories and adds its own as one step the others
    wait for, so writers racing for the last free places cannot all see room."""
    fill(api, alice, LIMIT - 2)
    racers = 8
    statuses = [
        response.status_code
        for response in at_once(
            capped,
            lambda client, n: ApiClient(client).post(
                "/api/categories", alice.token, json={"name": f"racer {n}"}
            ),
            racers,
        )
    ]

    assert sorted(statuses) == [201, 201] + [409] * (racers - 2), statuses
    assert len(names(capped)) == LIMIT
