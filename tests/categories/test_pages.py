"""The categories page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.categories.models import Category
from doable.extensions import db
from tests.support.categories import add_category
from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser, field_errors, input_value


def _categories(app: Flask) -> list[tuple[int, str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(Category.user_id, Category.name, Category.color).order_by(Category.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_categories_page_lists_names_colours_and_counts(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    api.post("/api/categories", alice.token, json={"name": "home", "color": "#16a34a"})
    api.post("/api/tasks", alice.token, json={"title": "T", "categories": ["home"]})

    html = browse(alice).get("/categories").get_data(as_text=True)

    assert 'href="/tasks?category=home"' in html
    assert 'fill="#16a34a"' in html
    assert "1 task<" in html


def test_create_category_saves_it(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post("/categories", {"name": "Study", "color": "#112233"})

    assert response.status_code == 302
    assert _categories(app) == [(alice.id, "Study", "#112233")]


def test_create_category_taken_name_or_bad_colour_shows_errors_by_the_fields(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    api.post("/api/categories", alice.token, json={"name": "Study"})

    taken = browse(alice).post("/categories", {"name": "STUDY", "color": ""})
    colour = browse(alice).post("/categories", {"name": "Other", "color": "red"})

    assert taken.status_code == 400
    assert field_errors(taken, "name") == ["You already have a category named 'STUDY'"]
    assert input_value(taken, "name") == "STUDY"
    assert field_errors(colour, "color") == ["Use a colour like #1a2b3c."]
    assert _categories(app) == [(alice.id, "Study", None)]


def test_rename_category_saves_and_errors_stay_on_its_row(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    first = api.post("/api/categories", alice.token, json={"name": "home"}).json["id"]
    api.post("/api/categories", alice.token, json={"name": "work"})
    browser = browse(alice)

    clash = browser.post(f"/categories/{first}", {f"category-{first}-name": "Work"})
    renamed = browser.post(
        f"/categories/{first}",
        {f"category-{first}-name": "house", f"category-{first}-color": "#000000"},
    )

    assert clash.status_code == 400
    assert field_errors(clash, f"category-{first}-name") == [
        "You already have a category named 'Work'"
    ]
    assert renamed.status_code == 302
    assert _categories(app) == [(alice.id, "house", "#000000"), (alice.id, "work", None)]


def test_delete_category_asks_then_deletes_and_keeps_the_tasks(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    api.post("/api/tasks", alice.token, json={"title": "T", "categories": ["home"]})
    browser = browse(alice)

    question = browser.get("/categories/1/delete")
    response = browser.post("/categories/1/delete")

    assert "Its 1 task stay" in question.get_data(as_text=True)
    assert response.status_code == 302
    assert _categories(app) == []
    assert api.get("/api/tasks/1", alice.token).json["categories"] == []


def test_another_users_category_is_404(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    api.post("/api/categories", alice.token, json={"name": "home"})
    browser = browse(bob)

    assert browser.get("/categories/1/delete").status_code == 404
    assert browser.post("/categories/1/delete").status_code == 404
    assert browser.post("/categories/1", {"category-1-name": "x"}).status_code == 404
    assert _categories(app) == [(alice.id, "home", None)]


# --- bounded pages ----------------------------------------------------------------------


@pytest.fixture
def alice_on(make_app: Callable[..., Flask]) -> Callable[..., tuple[Flask, Browser, Account]]:
    """An app with these settings, and alice signed in to it."""

    def build(**overrides: Any) -> tuple[Flask, Browser, Account]:
        app = make_app(**overrides)
        alice = ApiClient(app.test_client()).account("alice")
        browser = Browser(app.test_client())
        browser.login(alice)
        return app, browser, alice

    return build


def _add_categories(app: Flask, account: Account, count: int) -> None:
    with app.app_context():
        db.session.add_all(
            Category(user_id=account.id, name=f"cat{number:03}") for number in range(count)
        )
        db.session.commit()


def test_categories_page_lists_50_a_page_with_links_to_the_others(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    _add_categories(app, alice, 120)
    browser = browse(alice)

    first = browser.get("/categories").get_data(as_text=True)
    last = browser.get("/categories?page=3").get_data(as_text=True)

    assert first.count('class="category-row"') == 50
    assert "cat000" in first
    assert "cat049" in first
    assert "cat050" not in first
    assert 'href="/categories?page=2"' in first
    assert "120 categories · page 1 of 3" in first
    assert last.count('class="category-row"') == 20
    assert "cat119" in last
    assert 'href="/categories?page=2"' in last
    assert browser.get("/categories?page=x").status_code == 200


def test_task_list_suggests_only_the_50_most_used_category_names(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    _add_categories(app, alice, 80)
    api.post("/api/tasks", alice.token, json={"title": "T", "categories": ["cat079"]})

    html = browse(alice).get("/tasks").get_data(as_text=True)

    suggested = html.split('<datalist id="category-names">')[1].split("</datalist>")[0]
    assert suggested.count("<option") == 50
    assert suggested.index('"cat079"') < suggested.index('"cat000"')  # most used first
    assert '"cat049"' not in suggested


def test_new_task_past_the_category_limit_shows_the_error_and_creates_nothing(
    alice_on: Callable[..., tuple[Flask, Browser, Account]],
) -> None:
    app, browser, alice = alice_on(MAX_CATEGORIES_PER_USER=2)
    _add_categories(app, alice, 2)

    response = browser.post(
        "/tasks/new",
        {"title": "Flood", "status": "pending", "priority": "medium", "categories": "x, y"},
    )

    assert response.status_code == 409
    assert field_errors(response, "categories") == [
        "At most 2 categories per user: 2 exist and this would add 2. "
        "Delete unused ones, or use existing names."
    ]
    assert input_value(response, "title") == "Flood"
    assert _categories(app) == [(alice.id, "cat000", None), (alice.id, "cat001", None)]


def test_categories_page_create_past_the_limit_shows_the_error(
    alice_on: Callable[..., tuple[Flask, Browser, Account]],
) -> None:
    app, browser, alice = alice_on(MAX_CATEGORIES_PER_USER=1)
    _add_categories(app, alice, 1)

    response = browser.post("/categories", {"name": "two", "color": ""})

    assert response.status_code == 400
    assert field_errors(response, "name") == [
        "At most 1 categories per user: 1 exist and this would add 1. "
        "Delete unused ones, or use existing names."
    ]
    assert _categories(app) == [(alice.id, "cat000", None)]


def test_edit_past_the_category_limit_shows_the_task_as_stored(
    alice_on: Callable[..., tuple[Flask, Browser, Account]],
) -> None:
    """The refused edit is rolled back before the page is drawn again: the page shows the
    task as it is stored, not the refused title it had already flushed."""
    app, browser, alice = alice_on(MAX_CATEGORIES_PER_USER=1)
    api = ApiClient(app.test_client())
    task = api.post("/api/tasks", alice.token, json={"title": "Kept", "categories": ["one"]})
    task_id = task.get_json()["id"]
    page = browser.get(f"/tasks/{task_id}").get_data(as_text=True)
    version = re.search(r'id="version" name="version" type="hidden" value="([^"]*)"', page)
    assert version

    response = browser.post(
        f"/tasks/{task_id}",
        {
            "title": "Refused",
            "status": "pending",
            "priority": "medium",
            "categories": "one, two",
            "version": version.group(1),
        },
    )

    assert response.status_code == 409
    assert field_errors(response, "categories")
    shown = response.get_data(as_text=True)
    assert '<h1 data-field="title">Kept</h1>' in shown
    assert "Refused" not in shown.split("<form")[0]  # the heading, before the edit form
    assert api.get(f"/api/tasks/{task_id}", alice.token).get_json()["title"] == "Kept"


def test_each_row_edit_form_is_named_after_its_category(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    """A row's fields carry the prefix the save route reads them back with."""
    category = add_category(api, alice, "Study", "#123456")

    html = browse(alice).get("/categories").get_data(as_text=True)

    assert f'name="category-{category["id"]}-name"' in html
