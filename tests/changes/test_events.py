"""``GET /api/events`` (docs/api.md, Change feed): an event's shape, paging through a
feed, the arguments it refuses, and 410 for a position beyond the feed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from doable.changes.schemas import ACTIONS
from doable.errors import ProblemType
from tests.changes.feeds import feed, new_task
from tests.support.factories import TIMESTAMP, Account, ApiClient, assert_problem


def test_an_event_names_its_change_as_the_caller_may_see_it(api: ApiClient, alice: Account) -> None:
    task_id = new_task(api, alice, title="Write", priority="high")
    assert (
        api.patch(f"/api/tasks/{task_id}", alice.token, json={"title": "Read"}).status_code == 200
    )

    created, updated = feed(api, alice)

    assert TIMESTAMP.match(created["at"])
    assert {key: created[key] for key in created if key != "at"} == {
        "seq": 1,
        "change_id": created["change_id"],
        "actor": {"id": alice.id, "username": "alice"},
        "entity": {"type": "task", "id": task_id},
        "task_id": task_id,
        "action": "created",
        "version": 1,
        "changes": {
            "title": [None, "Write"],
            "description": [None, ""],
            "status": [None, "pending"],
            "priority": [None, "high"],
            "due_date": [None, None],
            "categories": [None, []],
        },
    }
    assert (updated["seq"], updated["action"], updated["version"]) == (2, "updated", 2)
    assert updated["changes"] == {"title": ["Write", "Read"]}
    assert updated["change_id"] > created["change_id"]


def test_a_feed_starts_empty_at_zero(api: ApiClient, alice: Account) -> None:
    response = api.get("/api/events", alice.token)

    assert response.status_code == 200
    assert response.get_json() == {"events": [], "next_after": 0, "has_more": False}


def test_pages_walk_the_feed_in_order_each_event_once(api: ApiClient, alice: Account) -> None:
    for n in range(7):
        new_task(api, alice, title=f"task {n}")
    pages, after = [], 0

    while True:
        body = api.get(f"/api/events?after={after}&limit=3", alice.token).get_json()
        pages.append([event["seq"] for event in body["events"]])
        assert body["next_after"] == (body["events"][-1]["seq"] if body["events"] else after)
        after = body["next_after"]
        if not body["has_more"]:
            break

    assert pages == [[1, 2, 3], [4, 5, 6], [7]]
    titles = [event["changes"]["title"][1] for event in feed(api, alice)]
    assert titles == [f"task {n}" for n in range(7)]


def test_a_page_that_ends_the_feed_exactly_says_there_is_no_more(
    api: ApiClient, alice: Account
) -> None:
    for _ in range(3):
        new_task(api, alice)

    body = api.get("/api/events?after=0&limit=3", alice.token).get_json()

    assert ([e["seq"] for e in body["events"]], body["has_more"]) == ([1, 2, 3], False)
    at_the_end = api.get("/api/events?after=3", alice.token).get_json()
    assert at_the_end == {"events": [], "next_after": 3, "has_more": False}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=-1", "after"),
        ("after=x", "after"),
        ("after=1.5", "after"),
        ("after=99999999999999999999", "after"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("after=1&after=2", "after"),
    ],
)
def test_bad_arguments_are_400_naming_them(
    api: ApiClient, alice: Account, query: str, field: str
) -> None:
    body = assert_problem(api.get(f"/api/events?{query}", alice.token), 400)

    assert body["type"] == ProblemType.INVALID_INPUT.uri
    assert field in body["errors"]


def test_a_position_beyond_the_feed_is_410_with_where_it_stands(
    api: ApiClient, alice: Account
) -> None:
    new_task(api, alice)

    body = assert_problem(api.get("/api/events?after=5", alice.token), 410)

    assert body["type"] == ProblemType.FEED_POSITION_GONE.uri
    assert (body["oldest_seq"], body["last_seq"]) == (1, 1)


def test_another_users_changes_are_not_in_a_feed(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    new_task(api, bob)

    assert feed(api, alice) == []
    assert api.get("/api/events?after=1", alice.token).status_code == 410


def test_the_feed_needs_a_login(api: ApiClient) -> None:
    assert_problem(api.get("/api/events"), 401)


def test_the_docs_name_every_action_the_feed_has() -> None:
    """docs/api.md's table of actions and ``EventRead``'s enum are the same list."""
    docs = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    section = docs.split("## Change feed", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `task`")]
    table += [
        line
        for line in section.splitlines()
        if line.startswith(("| `attach", "| `categ", "| `webhook", "| `notif"))
    ]
    documented = {name for line in table for name in re.findall(r"`([a-z_]+)`", line.split("|")[2])}

    assert documented == set(ACTIONS)
