"""The ``category`` filter on the task list (docs/api.md, Categories): ignoring case,
combined with the other filters, only the caller's tasks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.tasks import create


def list_tasks(api: ApiClient, account: Account, **params: Any) -> Any:
    return api.get(f"/api/tasks?{urlencode({'per_page': 100, **params})}", account.token)


def listed_ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["total"] == len(body["tasks"])
    return [task["id"] for task in body["tasks"]]


# --- ?category= on the task list -----------------------------------------------------


@pytest.fixture
def tagged(api: ApiClient, alice: Account, bob: Account) -> dict[str, int]:
    """alice's tasks by title; bob's have the same category names and must not show."""
    create(api, bob, title="bob study", categories=["Study"])
    specs = {
        "read flask book": ({"status": "pending"}, ["Study"]),
        "write flask notes": ({"status": "completed"}, ["study", "Home"]),
        "watch django talk": ({"status": "pending"}, ["Study"]),
        "clean flask": ({"status": "pending"}, ["Home"]),
        "nothing": ({"status": "pending"}, []),
    }
    return {
        title: create(api, alice, title=title, categories=names, **fields)["id"]
        for title, (fields, names) in specs.items()
    }


@pytest.mark.parametrize("name", ["Study", "study", "STUDY"])
def test_list_tasks_category_filter_ignores_case(
    api: ApiClient, alice: Account, tagged: dict[str, int], name: str
) -> None:
    response = list_tasks(api, alice, category=name, sort="title")

    assert listed_ids(response) == [
        tagged["read flask book"],
        tagged["watch django talk"],
        tagged["write flask notes"],
    ]


def test_list_tasks_category_filter_combines_with_status(
    api: ApiClient, alice: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, alice, category="study", status="pending", sort="title")

    assert listed_ids(response) == [tagged["read flask book"], tagged["watch django talk"]]


def test_list_tasks_category_filter_combines_with_q(
    api: ApiClient, alice: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, alice, category="STUDY", q="flask", sort="title")

    assert listed_ids(response) == [tagged["read flask book"], tagged["write flask notes"]]


def test_list_tasks_category_filter_combines_with_status_and_q(
    api: ApiClient, alice: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, alice, category="home", q="flask", status="pending")

    assert listed_ids(response) == [tagged["clean flask"]]


def test_list_tasks_category_filter_unknown_name_returns_empty_page(
    api: ApiClient, alice: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, alice, category="Garden")

    assert listed_ids(response) == []
    assert response.get_json()["total"] == 0


def test_list_tasks_category_filter_another_users_name_returns_only_callers_tasks(
    api: ApiClient, bob: Account, tagged: dict[str, int]
) -> None:
    response = list_tasks(api, bob, category="study")

    titles = [task["title"] for task in response.get_json()["tasks"]]
    assert titles == ["bob study"]


@pytest.mark.parametrize(
    "query",
    ["category=", "category=%20%20", f"category={'n' * 51}", "category=a&category=b"],
    ids=["empty", "blank", "51-chars", "repeated"],
)
def test_list_tasks_bad_category_returns_400_naming_it(
    api: ApiClient, alice: Account, query: str
) -> None:
    response = api.get(f"/api/tasks?{query}", alice.token)

    problem = assert_problem(response, 400)
    assert set(problem["errors"]) == {"category"}
