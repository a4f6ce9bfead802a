"""Listing and reading categories (docs/api.md, Categories): sorted by name ignoring case,
only the caller's, with task counts, in a constant number of SQL statements."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from doable.auth.models import User
from doable.categories.models import Category, task_category
from doable.extensions import db
from doable.tasks.models import Task
from tests.support.categories import add_category, counts, listed
from tests.support.factories import Account, ApiClient
from tests.support.tasks import create

CATEGORY_KEYS = {"id", "name", "color", "task_count", "created_at", "updated_at"}


# --- GET /api/categories -------------------------------------------------------------


def test_list_categories_sorted_by_name_ignoring_case(api: ApiClient, alice: Account) -> None:
    for name in ["banana", "Cherry", "apple", "Apricot", "BLUEBERRY"]:
        add_category(api, alice, name)

    categories = listed(api, alice)

    assert [c["name"] for c in categories] == ["apple", "Apricot", "banana", "BLUEBERRY", "Cherry"]
    assert all(set(c) == CATEGORY_KEYS for c in categories)


def test_list_categories_shows_only_the_callers(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    mine = add_category(api, alice, "Mine", "#ffffff")
    add_category(api, bob, "Theirs")

    categories = listed(api, alice)

    assert categories == [mine]


def test_list_categories_new_user_returns_empty_list(api: ApiClient, alice: Account) -> None:
    assert listed(api, alice) == []


def test_list_categories_task_count_counts_linked_tasks(api: ApiClient, alice: Account) -> None:
    add_category(api, alice, "Empty")
    create(api, alice, categories=["Study", "Home"])
    create(api, alice, categories=["Study"])
    create(api, alice)

    assert counts(api, alice) == {"Empty": 0, "Home": 1, "Study": 2}


def test_list_categories_task_count_drops_when_a_task_is_unlinked(
    api: ApiClient, alice: Account
) -> None:
    first = create(api, alice, categories=["Study", "Home"])
    create(api, alice, categories=["Study"])

    response = api.patch(f"/api/tasks/{first['id']}", alice.token, json={"categories": ["Home"]})

    assert response.status_code == 200
    assert response.get_json()["categories"] == ["Home"]
    assert counts(api, alice) == {"Home": 1, "Study": 1}


def test_list_categories_task_count_drops_when_a_task_is_deleted(
    api: ApiClient, alice: Account
) -> None:
    first = create(api, alice, categories=["Study"])
    create(api, alice, categories=["Study"])

    response = api.delete(f"/api/tasks/{first['id']}", alice.token)

    assert response.status_code == 204
    assert counts(api, alice) == {"Study": 1}


def test_get_category_returns_it_with_task_count(api: ApiClient, alice: Account) -> None:
    created = add_category(api, alice, "Study", "#abcdef")
    create(api, alice, categories=["study"])

    response = api.get(f"/api/categories/{created['id']}", alice.token)

    assert response.status_code == 200
    assert response.get_json() == {**created, "task_count": 1}


# --- statements per request ----------------------------------------------------------


def insert_categories(app: Flask, user_id: int, count: int, tasks_each: int) -> None:
    """``count`` categories for the user, each on ``tasks_each`` tasks of theirs."""
    with app.app_context():
        owner = db.session.get(User, user_id)
        tasks = [Task(user_id=user_id, owner=owner, title=f"t{n}") for n in range(tasks_each)]
        db.session.add_all(tasks)
        for n in range(count):
            db.session.add(Category(user_id=user_id, name=f"cat{n:03d}"))
        db.session.flush()
        categories = db.session.scalars(sa.select(Category).where(Category.user_id == user_id))
        for category in categories:
            db.session.execute(
                task_category.insert(),
                [{"task_id": task.id, "category_id": category.id} for task in tasks],
            )
        db.session.commit()


def test_list_categories_statement_count_does_not_grow_with_categories(
    api: ApiClient, app: Flask, statements: list[str]
) -> None:
    few = api.account("few")
    many = api.account("many")
    insert_categories(app, few.id, 2, 3)
    insert_categories(app, many.id, 30, 3)
    seen = {}

    for account, expected in [(few, 2), (many, 30)]:
        assert api.get("/api/categories", account.token).status_code == 200  # warm up
        statements.clear()
        categories = listed(api, account)
        seen[expected] = len(statements)
        assert len(categories) == expected
        assert {c["task_count"] for c in categories} == {3}

    assert seen[2] > 0, "the listener saw no statements"
    assert seen[2] == seen[30], seen
