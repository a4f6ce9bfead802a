"""Creating categories (docs/api.md, Categories): names unique per user ignoring case,
an optional colour, and refused bodies that store nothing."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.support.categories import add_category, category_rows
from tests.support.factories import TIMESTAMP, Account, ApiClient, assert_problem

# --- POST /api/categories ------------------------------------------------------------


def test_create_category_returns_201_with_location_and_stores_it(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": "Study", "color": "#1a2B3c"})

    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {
        "id": 1,
        "name": "Study",
        "color": "#1a2B3c",
        "task_count": 0,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert TIMESTAMP.match(body["created_at"])
    assert TIMESTAMP.match(body["updated_at"])
    assert urlsplit(response.headers["Location"]).path == "/api/categories/1"
    assert category_rows(app) == [(1, alice.id, "Study", "#1a2B3c")]


def test_create_category_location_serves_the_same_representation(
    api: ApiClient, alice: Account
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": "Study"})

    fetched = api.get(response.headers["Location"], alice.token)

    assert fetched.status_code == 200
    assert fetched.get_json() == response.get_json()


def test_create_category_without_color_stores_null(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": "Home"})

    assert response.status_code == 201
    assert response.get_json()["color"] is None
    assert category_rows(app) == [(1, alice.id, "Home", None)]


def test_create_category_explicit_null_color_returns_201(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": "Home", "color": None})

    assert response.status_code == 201
    assert response.get_json()["color"] is None
    assert category_rows(app) == [(1, alice.id, "Home", None)]


@pytest.mark.parametrize("name", ["x", "n" * 50], ids=["1-char", "50-chars"])
def test_create_category_name_at_length_limit_returns_201(
    api: ApiClient, app: Flask, alice: Account, name: str
) -> None:
    response = api.post("/api/categories", alice.token, json={"name": name})

    assert response.status_code == 201
    assert response.get_json()["name"] == name
    assert category_rows(app) == [(1, alice.id, name, None)]


INVALID_CATEGORIES = {
    "name-missing": ({"color": "#123456"}, "name"),
    "name-empty": ({"name": ""}, "name"),
    "name-blank": ({"name": "   "}, "name"),
    "name-51-chars": ({"name": "n" * 51}, "name"),
    "name-null": ({"name": None}, "name"),
    "name-number": ({"name": 7}, "name"),
    "color-word": ({"name": "ok", "color": "red"}, "color"),
    "color-no-hash": ({"name": "ok", "color": "123456"}, "color"),
    "color-5-digits": ({"name": "ok", "color": "#12345"}, "color"),
    "color-7-digits": ({"name": "ok", "color": "#1234567"}, "color"),
    "color-not-hex": ({"name": "ok", "color": "#12345G"}, "color"),
    "color-short-form": ({"name": "ok", "color": "#abc"}, "color"),
    "color-trailing-newline": ({"name": "ok", "color": "#123456\n"}, "color"),
    "color-number": ({"name": "ok", "color": 123456}, "color"),
    "unknown-field": ({"name": "ok", "icon": "star"}, "icon"),
    "read-only-id": ({"name": "ok", "id": 5}, "id"),
    "read-only-task-count": ({"name": "ok", "task_count": 3}, "task_count"),
}


@pytest.mark.parametrize(
    ("body", "field"), INVALID_CATEGORIES.values(), ids=list(INVALID_CATEGORIES)
)
def test_create_category_invalid_body_returns_400_naming_field_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/categories", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {field}
    assert problem["errors"][field]
    assert category_rows(app) == []


@pytest.mark.parametrize("name", ["Study", "study", "STUDY", "sTuDy"])
def test_create_category_existing_name_ignoring_case_returns_409(
    api: ApiClient, app: Flask, alice: Account, name: str
) -> None:
    add_category(api, alice, "Study", "#000000")

    response = api.post("/api/categories", alice.token, json={"name": name})

    problem = assert_problem(response, 409)
    assert "categories" not in problem
    assert category_rows(app) == [(1, alice.id, "Study", "#000000")]


def test_create_category_name_another_user_has_returns_201(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    add_category(api, bob, "Study")

    response = api.post("/api/categories", alice.token, json={"name": "study"})

    assert response.status_code == 201
    assert category_rows(app) == [(1, bob.id, "Study", None), (2, alice.id, "study", None)]


# --- names against the documented pattern ----------------------------------------


SAMPLES = [
    "Work",
    "Été",
    " padded ",
    " ",
    "",
    "a\tb",
    "a\nb",
    "a\n",
    "x\u0085",
    "\u00a0",
    "a\u202eb",
    "zero\u200bwidth",
    "soft\u00adhyphen",
    "\ufeffbom",
    "日本語",
    "a" * 50,
]


# Found by schemathesis (tests/test_fuzz.py).
@pytest.mark.parametrize("name", SAMPLES)
def test_a_category_name_is_accepted_exactly_when_the_documented_pattern_matches(
    spec, api: ApiClient, alice, name
):
    field = spec["components"]["schemas"]["CategoryCreate"]["properties"]["name"]
    documented = (
        field["minLength"] <= len(name) <= field["maxLength"]
        and re.search(field["pattern"], name) is not None  # JSON Schema: search semantics
    )
    response = api.post("/api/categories", alice.token, json={"name": name})
    assert (response.status_code == 201) == documented, response.json
