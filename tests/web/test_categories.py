"""The categories page."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from doable.categories.models import Category
from doable.extensions import db
from tests.factories import Account, ApiClient
from tests.web.conftest import Browser, field_errors, input_value


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
