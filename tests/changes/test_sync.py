"""GET /api/sync: a first sync is everything the caller sees; a sync since a position,
applied to the copy that position was read with, gives what a fresh full read gives;
answers are paged by a cursor; a position no longer held is 410."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from doable.changes.service import prune
from doable.db import utcnow
from doable.errors import ProblemType
from doable.extensions import db
from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.tasks import create

pytestmark = pytest.mark.usefixtures("app")

Copy = tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]


def fresh(api: ApiClient, account: Account) -> Copy:
    """Every task (all pages of GET /api/tasks) and category the account sees, by id."""
    tasks: dict[int, dict[str, Any]] = {}
    categories: dict[int, dict[str, Any]] = {}
    for path, into, key in (
        ("/api/tasks", tasks, "tasks"),
        ("/api/categories", categories, "categories"),
    ):
        page = 1
        while True:
            body = api.get(f"{path}?per_page=100&page={page}", account.token).json
            into.update((item["id"], item) for item in body[key])
            if page >= body["pages"]:
                break
            page += 1
    return tasks, categories


def sync(api: ApiClient, account: Account, since: int | None = None, limit: int = 500) -> list[Any]:
    """Every answer of one sync, following its cursor."""
    query = f"limit={limit}" + ("" if since is None else f"&since={since}")
    answers = []
    while True:
        response = api.get(f"/api/sync?{query}", account.token)
        assert response.status_code == 200, response.get_json()
        answers.append(response.json)
        if not response.json["has_more"]:
            return answers
        assert response.json["cursor"]
        query = f"limit={limit}&cursor={response.json['cursor']}"


def apply(copy: Copy, answers: list[Any]) -> tuple[Copy, int]:
    """The copy with a sync's answers applied, and the position to sync from next."""
    tasks, categories = dict(copy[0]), dict(copy[1])
    for answer in answers:
        for task_id in answer["deleted"]:
            tasks.pop(task_id, None)
        tasks.update((task["id"], task) for task in answer["tasks"])
        for category_id in answer["deleted_categories"]:
            categories.pop(category_id, None)
        categories.update((category["id"], category) for category in answer["categories"])
    return (tasks, categories), answers[-1]["next_since"]


def feed_end(api: ApiClient, account: Account) -> int:
    events = api.get("/api/events?limit=500", account.token).json
    return int(events["next_after"])


# --- a first sync -------------------------------------------------------------------------


def test_a_first_sync_is_every_task_and_category_seen_and_the_feed_position(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    create(api, alice, title="Own", categories=["Work"])
    shared = create(api, bob, title="Bob's", categories=["Home"])
    share(api, bob, shared["id"], alice, "view")
    create(api, bob, title="Not shared")

    answers = sync(api, alice)

    assert len(answers) == 1
    assert answers[0]["deleted"] == answers[0]["deleted_categories"] == []
    assert apply(({}, {}), answers)[0] == fresh(api, alice)
    assert [task["title"] for task in answers[0]["tasks"]] == ["Own", "Bob's"]
    assert [category["name"] for category in answers[0]["categories"]] == ["Work"]
    assert answers[0]["next_since"] == feed_end(api, alice) > 0


def test_a_first_sync_comes_in_answers_of_limit_tasks_that_keep_one_position(
    api: ApiClient, alice: Account
) -> None:
    for n in range(5):
        create(api, alice, title=f"t{n}")
    position = feed_end(api, alice)

    answers = sync(api, alice, limit=2)

    assert [len(answer["tasks"]) for answer in answers] == [2, 2, 1]
    assert [answer["has_more"] for answer in answers] == [True, True, False]
    assert answers[-1]["cursor"] is None
    assert {answer["next_since"] for answer in answers} == {position}
    assert apply(({}, {}), answers)[0] == fresh(api, alice)


# --- since a position -------------------------------------------------------------------------


def test_a_sync_since_sends_each_changed_task_once_as_it_is_now(
    api: ApiClient, alice: Account
) -> None:
    kept = create(api, alice, title="Kept")
    edited = create(api, alice, title="Draft")
    since = sync(api, alice)[-1]["next_since"]
    for title in ("Second", "Third"):
        api.patch(f"/api/tasks/{edited['id']}", alice.token, json={"title": title})

    (answer,) = sync(api, alice, since)

    current = api.get(f"/api/tasks/{edited['id']}", alice.token).json
    assert answer["tasks"] == [current]
    assert answer["deleted"] == []
    assert kept["id"] not in [task["id"] for task in answer["tasks"]]
    assert answer["next_since"] == feed_end(api, alice)


def test_a_task_deleted_or_no_longer_shared_is_a_tombstone(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    gone = create(api, alice, title="Gone")
    unshared = create(api, alice, title="Unshared")
    for task in (gone, unshared):
        share(api, alice, task["id"], bob, "edit")
    since = sync(api, bob)[-1]["next_since"]
    api.delete(f"/api/tasks/{gone['id']}", alice.token)
    api.delete(f"/api/tasks/{unshared['id']}/share/{bob.id}", alice.token)

    (answer,) = sync(api, bob, since)

    assert answer["tasks"] == []
    assert answer["deleted"] == sorted([gone["id"], unshared["id"]])


def test_the_tasks_of_an_account_deleted_are_tombstones_for_their_sharees(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task = create(api, alice, title="Shared")
    share(api, alice, task["id"], bob, "view")
    create(api, bob, title="Bob's own")
    copy, since = apply(({}, {}), sync(api, bob))
    body = {"current_password": alice.password}
    assert api.delete("/api/me", alice.token, json=body).status_code == 204

    (answer,) = sync(api, bob, since)

    assert answer["deleted"] == [task["id"]]
    assert apply(copy, [answer])[0] == fresh(api, bob)


def test_a_category_renamed_is_sent_with_its_tasks_and_a_deleted_one_by_id(
    api: ApiClient, alice: Account
) -> None:
    task = create(api, alice, title="Tagged", categories=["Work", "Home"])
    copy, since = apply(({}, {}), sync(api, alice))
    ids = {category["name"]: category["id"] for category in copy[1].values()}
    api.patch(f"/api/categories/{ids['Work']}", alice.token, json={"name": "Job"})
    api.delete(f"/api/categories/{ids['Home']}", alice.token)

    (answer,) = sync(api, alice, since)

    assert [t["categories"] for t in answer["tasks"]] == [["Job"]]
    assert [(c["id"], c["name"]) for c in answer["categories"]] == [(ids["Work"], "Job")]
    assert answer["deleted_categories"] == [ids["Home"]]
    assert apply(copy, [answer])[0] == fresh(api, alice)
    assert task["id"] == answer["tasks"][0]["id"]


def test_a_category_a_task_leaves_is_sent_with_its_new_count(
    api: ApiClient, alice: Account
) -> None:
    task = create(api, alice, title="Tagged", categories=["Work"])
    copy, since = apply(({}, {}), sync(api, alice))
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"categories": []})

    (answer,) = sync(api, alice, since)

    assert [(c["name"], c["task_count"]) for c in answer["categories"]] == [("Work", 0)]
    assert apply(copy, [answer])[0] == fresh(api, alice)


def test_a_sync_since_the_end_of_the_feed_is_empty(api: ApiClient, alice: Account) -> None:
    create(api, alice)
    since = sync(api, alice)[-1]["next_since"]

    (answer,) = sync(api, alice, since)

    assert answer == {
        "tasks": [],
        "deleted": [],
        "categories": [],
        "deleted_categories": [],
        "next_since": since,
        "has_more": False,
        "cursor": None,
    }


def test_a_sync_since_comes_in_answers_of_limit_tasks_and_tombstones(
    api: ApiClient, alice: Account
) -> None:
    tasks = [create(api, alice, title=f"t{n}") for n in range(5)]
    copy, since = apply(({}, {}), sync(api, alice))
    for task in tasks[:3]:
        api.patch(f"/api/tasks/{task['id']}", alice.token, json={"status": "completed"})
    for task in tasks[3:]:
        api.delete(f"/api/tasks/{task['id']}", alice.token)

    answers = sync(api, alice, since, limit=2)

    assert [len(a["tasks"]) + len(a["deleted"]) for a in answers] == [2, 2, 1]
    assert apply(copy, answers)[0] == fresh(api, alice)


# --- reading while others write -----------------------------------------------------------


def test_a_change_committed_while_a_sync_reads_is_sent_again_by_the_next(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    """The position is read first: a change committed right after it is read (by
    another connection, before the data is) comes after ``next_since``."""
    task = create(api, alice, title="Before")
    since = sync(api, alice)[-1]["next_since"]
    with app.app_context():
        engine = db.engine
    written = []

    def write_once(*args: Any) -> None:
        statement = args[2]
        if "feed_cursor" in statement and not written:
            written.append(True)
            change = {"title": "Meanwhile"}
            other = app.test_client()
            thread = threading.Thread(
                target=lambda: written.append(
                    other.patch(f"/api/tasks/{task['id']}", json=change, headers=alice.auth)
                )
            )
            thread.start()
            thread.join(timeout=10)

    event.listen(engine, "after_cursor_execute", write_once)
    try:
        (answer,) = sync(api, alice, since)
    finally:
        event.remove(engine, "after_cursor_execute", write_once)

    assert written[1].status_code == 200
    (again,) = sync(api, alice, answer["next_since"])
    assert [t["title"] for t in again["tasks"]] == ["Meanwhile"]
    assert answer["next_since"] < again["next_since"]


# --- refusals ---------------------------------------------------------------------------


def test_a_position_beyond_the_feed_is_gone(api: ApiClient, alice: Account) -> None:
    create(api, alice)

    body = assert_problem(api.get("/api/sync?since=99", alice.token), 410)

    assert body["type"] == ProblemType.FEED_POSITION_GONE.uri
    assert body["last_seq"] == feed_end(api, alice)


def test_a_position_whose_changes_were_pruned_is_gone(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    create(api, alice)
    with app.app_context():
        prune(now=utcnow() + timedelta(days=31))
    create(api, alice)

    body = assert_problem(api.get("/api/sync?since=0", alice.token), 410)

    assert body["oldest_seq"] == 2
    assert api.get("/api/sync?since=1", alice.token).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "since=0&cursor=all.0.0",
        "cursor=nonsense",
        "cursor=5.2.0",
        "cursor=all.8.8027941298",  # a task id no database row can have (was a 500)
        "cursor=all.9223372036854775808.0",
        "cursor=-1.3.0",
        "limit=0",
        "limit=1001",
    ],
)
def test_a_bad_query_is_400(api: ApiClient, alice: Account, query: str) -> None:
    assert_problem(api.get(f"/api/sync?{query}", alice.token), 400)


def test_a_cursor_beyond_the_feed_is_gone(api: ApiClient, alice: Account) -> None:
    assert_problem(api.get("/api/sync?cursor=all.7.0", alice.token), 410)


# --- the property -------------------------------------------------------------------------

NAMES = ["Work", "Home", "Q3"]
OPERATION = st.tuples(
    st.sampled_from(
        [
            "create",
            "create",
            "edit",
            "recategorise",
            "share",
            "unshare",
            "delete",
            "rename",
            "drop_category",
        ]
    ),
    st.integers(0, 2),  # who does it
    st.integers(0, 50),  # which task or category (of those there are, in turn)
    st.integers(0, 2),  # whom it concerns (a share)
    st.integers(0, 7),  # a value
)
OPERATIONS = st.lists(OPERATION, max_size=10)


def _run(api: ApiClient, users: list[Account], tasks: list[int], operation: Any) -> None:
    """Do one operation through the API; refusals (403, 404, 409) are part of the mix."""
    kind, actor_n, target, other_n, value = operation
    actor, other = users[actor_n], users[other_n]
    task = f"/api/tasks/{tasks[target % len(tasks)]}" if tasks else None
    names = [NAMES[i] for i in range(3) if value & (1 << i)]
    if kind == "create":
        tasks.append(create(api, actor, title=f"t{value}", categories=names)["id"])
    elif task is None:
        return
    elif kind == "edit":
        status = ["pending", "in_progress", "completed"][value % 3]
        api.patch(task, actor.token, json={"status": status, "title": f"e{value}"})
    elif kind == "recategorise":
        api.patch(task, actor.token, json={"categories": names})
    elif kind == "share":
        body = {"username": other.username, "permission": ["view", "edit"][value % 2]}
        api.post(f"{task}/share", actor.token, json=body)
    elif kind == "unshare":
        api.delete(f"{task}/share/{other.id}", actor.token)
    elif kind == "delete":
        api.delete(task, actor.token)
    else:
        _change_category(api, actor, kind, target, value)


def _change_category(api: ApiClient, actor: Account, kind: str, target: int, value: int) -> None:
    categories = api.get("/api/categories", actor.token).json["categories"]
    if not categories:
        return
    path = f"/api/categories/{categories[target % len(categories)]['id']}"
    if kind == "rename":
        api.patch(path, actor.token, json={"name": f"{NAMES[value % 3]}{value}"})
    else:
        api.delete(path, actor.token)


def test_a_sync_applied_to_an_old_copy_gives_a_fresh_read_for_everyone(api: ApiClient) -> None:
    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(before=OPERATIONS, after=OPERATIONS, limit=st.sampled_from([1, 2, 500]))
    def check(before: list[Any], after: list[Any], limit: int) -> None:
        users = [api.account() for _ in range(3)]
        tasks: list[int] = []
        for operation in before:
            _run(api, users, tasks, operation)
        copies = {}
        for user in users:
            copies[user.id] = apply(({}, {}), sync(api, user, limit=limit))
            assert copies[user.id][0] == fresh(api, user)
        for operation in after:
            _run(api, users, tasks, operation)
        for user in users:
            copy, since = copies[user.id]
            assert apply(copy, sync(api, user, since, limit=limit))[0] == fresh(api, user)

    check()
