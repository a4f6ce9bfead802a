"""A page's statements are built once per shape of list (``service._listed``): two
users' pages of one shape run the very same statement objects, each request binding
its own values (the caller, the filters, the page's bounds), and each user still gets
only their own tasks. Built per request, they were half of a page's time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import Account, ApiClient
from tests.support.tasks import create


def page(api: ApiClient, account: Account, query: str, executed: list[Any]) -> list[str]:
    """The titles of ``account``'s page, with ``executed`` holding its statements alone."""
    executed.clear()
    response = api.get(f"/api/tasks?{query}", account.token)
    assert response.status_code == 200, response.get_json()
    return [task["title"] for task in response.get_json()["tasks"]]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status=pending&priority=low",
        "overdue=true&category=work",
        "page=2&per_page=2",  # the last task, read from the end of the list
    ],
    ids=["first", "filtered", "overdue_category", "last"],
)
def test_pages_of_one_shape_run_the_same_statements_with_their_own_values(
    api: ApiClient, executed: list[Any], query: str
) -> None:
    alice, bob = api.account("alice"), api.account("bob")
    for account in (alice, bob):
        for n in range(3):
            create(
                api,
                account,
                title=f"{account.username} {n}",
                priority="low",
                due_date="2020-01-01",
                categories=["work"],
            )
    page(api, alice, query, executed)  # builds the shape's statements, if not yet built

    alices = page(api, alice, query, executed)
    alice_statements = list(executed)
    bobs = page(api, bob, query, executed)

    assert {title.split()[0] for title in alices} == {"alice"}  # some, all hers
    assert bobs == [title.replace("alice", "bob") for title in alices]
    # a filter by date reads the viewer's zone first (docs/api.md, Time zones)
    assert len(executed) == len(alice_statements) == (3 if "overdue" in query else 2)
    assert all(ours is theirs for ours, theirs in zip(alice_statements, executed, strict=True))
