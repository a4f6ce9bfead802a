"""Bulk actions (docs/api.md, Bulk actions): each task checked and committed on its own,
answered as its own route would answer, the batch bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.tasks.models import Task
from tests.support.api_tokens import new_token
from tests.support.factories import Account, ApiClient, assert_problem, share, stored_task
from tests.support.signals import SignalRecorder, recording
from tests.support.tasks import create

BULK = "/api/tasks/bulk"


def bulk(api: ApiClient, account: Account, token: str | None = None, **body: Any) -> Any:
    response = api.post(BULK, token or account.token, json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def statuses(body: dict[str, Any]) -> list[tuple[int, int]]:
    return [(item["id"], item["status"]) for item in body["results"]]


def committed_status(connection: sa.Connection, task_id: int) -> str | None:
    read = sa.select(Task.status).where(Task.id == task_id)
    return connection.execute(read).scalar_one_or_none()


@pytest.fixture
def recorder() -> Iterator[SignalRecorder]:
    with recording(committed_status) as recorder:
        yield recorder


@pytest.fixture
def mixed(api: ApiClient, alice: Account, bob: Account, carol: Account) -> dict[str, int]:
    """Tasks alice names in one batch: hers, bob's she may edit or only view, carol's."""
    tasks = {
        "own": create(api, alice, title="mine")["id"],
        "edit": create(api, bob, title="bob edit")["id"],
        "view": create(api, bob, title="bob view")["id"],
        "other": create(api, carol, title="carol's")["id"],
    }
    share(api, bob, tasks["edit"], alice, "edit")
    share(api, bob, tasks["view"], alice, "view")
    return tasks


def test_complete_mixed_batch_answers_each_task_and_commits_only_the_allowed(
    api: ApiClient, app: Flask, alice: Account, mixed: dict[str, int], recorder: SignalRecorder
) -> None:
    ids = [mixed["own"], mixed["edit"], mixed["view"], mixed["other"], 9999]

    body = bulk(api, alice, action="complete", task_ids=ids)

    assert statuses(body) == list(zip(ids, [200, 200, 403, 404, 404], strict=True))
    assert (body["succeeded"], body["failed"]) == (2, 3)
    own, edit, view, other, missing = body["results"]
    assert own["task"]["status"] == "completed"
    assert own["changed"] is True
    assert own["problem"] is None
    assert edit["task"]["access"] == "edit"
    assert view["task"] is None
    assert view["changed"] is False
    assert view["problem"]["type"].endswith("/insufficient-access")
    assert view["problem"]["status"] == 403
    assert view["problem"]["request_id"]
    assert other["problem"]["type"].endswith("/task-not-found")
    assert missing["problem"]["detail"] == "Task 9999 not found"
    stored = {name: stored_task(app, task_id) for name, task_id in mixed.items()}
    assert {name: row["status"] for name, row in stored.items() if row} == {
        "own": "completed",
        "edit": "completed",
        "view": "pending",
        "other": "pending",
    }
    # one change per committed task, delivered after its commit
    assert [(e.action, e.task_id, e.committed) for e in recorder.events] == [
        ("updated", mixed["own"], "completed"),
        ("updated", mixed["edit"], "completed"),
    ]


def test_complete_an_already_completed_task_is_unchanged_not_an_error(
    api: ApiClient, alice: Account, recorder: SignalRecorder
) -> None:
    task = create(api, alice, status="completed")
    recorder.events.clear()

    body = bulk(api, alice, action="complete", task_ids=[task["id"]])

    assert body["results"][0]["status"] == 200
    assert body["results"][0]["changed"] is False
    assert body["results"][0]["task"]["status"] == "completed"
    assert (body["succeeded"], body["failed"]) == (1, 0)
    assert recorder.events == []


def test_complete_recurring_task_rolls_forward_as_complete_does(
    api: ApiClient, alice: Account
) -> None:
    task = create(
        api, alice, due_date="2030-03-04", recurrence={"rule": "FREQ=WEEKLY", "mode": "schedule"}
    )

    body = bulk(api, alice, action="complete", task_ids=[task["id"]])

    shown = body["results"][0]["task"]
    assert (shown["status"], shown["due_date"]) == ("pending", "2030-03-11")
    feed = api.get("/api/events", alice.token).get_json()["events"]
    assert feed[-1]["action"] == "occurrence_completed"


def test_reopen_sets_completed_tasks_pending_and_leaves_pending_ones(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    done = create(api, alice, status="completed")
    open_ = create(api, alice)

    body = bulk(api, alice, action="reopen", task_ids=[done["id"], open_["id"]])

    assert [item["changed"] for item in body["results"]] == [True, False]
    assert stored_task(app, done["id"])["status"] == "pending"  # type: ignore[index]


def test_delete_refused_per_item_to_non_owner(
    api: ApiClient, app: Flask, alice: Account, mixed: dict[str, int]
) -> None:
    ids = [mixed["own"], mixed["edit"], mixed["view"], mixed["other"]]

    body = bulk(api, alice, action="delete", task_ids=ids)

    assert statuses(body) == list(zip(ids, [204, 403, 403, 404], strict=True))
    assert body["results"][0]["task"] is None
    assert body["results"][0]["changed"] is True
    assert stored_task(app, mixed["own"]) is None
    assert all(stored_task(app, mixed[name]) for name in ("edit", "view", "other"))


def test_add_and_remove_category_use_the_owners_categories(
    api: ApiClient, alice: Account, bob: Account, mixed: dict[str, int]
) -> None:
    tagged = create(api, alice, categories=["Home"])["id"]
    ids = [mixed["own"], tagged, mixed["edit"], mixed["view"]]

    added = bulk(api, alice, action="add_category", task_ids=ids, category="home")

    assert statuses(added) == list(zip(ids, [200, 200, 200, 403], strict=True))
    assert [item["changed"] for item in added["results"]] == [True, False, True, False]
    assert added["results"][0]["task"]["categories"] == ["Home"]  # her own, existing
    assert added["results"][2]["task"]["categories"] == ["home"]  # bob's, created for bob
    bobs = api.get("/api/categories", bob.token).get_json()["categories"]
    assert [c["name"] for c in bobs] == ["home"]

    removed = bulk(api, alice, action="remove_category", task_ids=ids[:3], category="HOME")

    assert [item["task"]["categories"] for item in removed["results"]] == [[], [], []]
    again = bulk(api, alice, action="remove_category", task_ids=ids[:1], category="home")
    assert again["results"][0]["changed"] is False


def test_add_category_past_a_tasks_limit_fails_that_task_alone(
    api: ApiClient, app: Flask, alice: Account, recorder: SignalRecorder
) -> None:
    first = create(api, alice)["id"]
    full = create(api, alice, categories=[f"c{n}" for n in range(20)])["id"]
    last = create(api, alice)["id"]
    recorder.events.clear()

    body = bulk(api, alice, action="add_category", task_ids=[first, full, last], category="x")

    assert statuses(body) == [(first, 200), (full, 400), (last, 200)]
    assert body["results"][1]["problem"]["errors"]["category"]
    assert [e.task_id for e in recorder.events if e.action == "updated"] == [first, last]


def test_owner_at_category_limit_fails_mid_batch_and_the_rest_commit(
    make_app: Any,
) -> None:
    app = make_app(MAX_CATEGORIES_PER_USER=1)
    api = ApiClient(app.test_client())
    alice, bob = api.account("alice"), api.account("bob")
    mine = create(api, alice, categories=["one"])["id"]
    bobs = create(api, bob, categories=["b"])["id"]  # bob is at his limit
    share(api, bob, bobs, alice, "edit")
    later = create(api, alice)["id"]

    body = bulk(api, alice, action="add_category", task_ids=[mine, bobs, later], category="one")

    assert statuses(body) == [(mine, 200), (bobs, 409), (later, 200)]
    assert body["results"][1]["problem"]["type"].endswith("/category-limit-reached")
    assert body["results"][2]["task"]["categories"] == ["one"]
    assert stored_task(app, bobs)["version"] == 1  # type: ignore[index]


def test_duplicates_are_answered_once_in_order(api: ApiClient, alice: Account) -> None:
    a, b = create(api, alice)["id"], create(api, alice)["id"]

    body = bulk(api, alice, action="complete", task_ids=[b, a, b, a])

    assert [item["id"] for item in body["results"]] == [b, a]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "complete", "task_ids": []}, "task_ids"),
        ({"action": "complete", "task_ids": list(range(1, 102))}, "task_ids"),
        ({"action": "complete", "task_ids": ["1"]}, "task_ids.0"),
        ({"action": "explode", "task_ids": [1]}, "action"),
        ({"task_ids": [1]}, "action"),
        ({"action": "complete"}, "task_ids"),
        ({"action": "add_category", "task_ids": [1]}, "category"),
        ({"action": "complete", "task_ids": [1], "category": "x"}, "category"),
        ({"action": "add_category", "task_ids": [1], "category": " "}, "category"),
        ({"action": "add_category", "task_ids": [1], "category": "a" * 300}, "category"),
        ({"action": "complete", "task_ids": [1], "extra": 1}, "extra"),
    ],
    ids=[
        "no-ids",
        "101-ids",
        "string-id",
        "bad-action",
        "no-action",
        "no-task-ids",
        "category-missing",
        "category-extra",
        "category-blank",
        "category-long",
        "unknown-field",
    ],
)
def test_invalid_batch_is_refused_whole(
    api: ApiClient, app: Flask, alice: Account, body: dict[str, Any], field: str
) -> None:
    task = create(api, alice)

    problem = assert_problem(api.post(BULK, alice.token, json=body), 400)

    assert field in problem["errors"]
    assert stored_task(app, task["id"])["status"] == "pending"  # type: ignore[index]


def test_hundred_ids_are_accepted(api: ApiClient, alice: Account) -> None:
    body = bulk(api, alice, action="complete", task_ids=list(range(1, 101)))

    assert len(body["results"]) == 100
    assert body["failed"] == 100  # none of them exists


@pytest.mark.parametrize("task_ids", [[1] * 101, [*range(1, 100), 1, 2]], ids=["one", "some"])
def test_repeats_count_towards_the_limit(
    api: ApiClient, alice: Account, task_ids: list[int]
) -> None:
    """The list as sent is bounded (docs/api.md): 500 copies of one id are refused, not
    read and then dropped."""
    problem = assert_problem(
        api.post(BULK, alice.token, json={"action": "complete", "task_ids": task_ids}), 400
    )

    assert problem["errors"]["task_ids"] == ["At most 100 tasks at once; select fewer."]


def test_the_document_states_the_setting_not_a_fixed_limit(spec: dict[str, Any]) -> None:
    task_ids = spec["components"]["schemas"]["TaskBulk"]["properties"]["task_ids"]

    assert "maxItems" not in task_ids
    assert task_ids["minItems"] == 1
    assert "DOABLE_MAX_BULK_TASKS" in task_ids["description"]
    assert "100 by default" in task_ids["description"]


def test_api_token_needs_tasks_write(api: ApiClient, alice: Account) -> None:
    task = create(api, alice)
    reader = new_token(api, alice, scopes=["tasks:read"])["token"]
    writer = new_token(api, alice, scopes=["tasks:write"])["token"]
    body = {"action": "complete", "task_ids": [task["id"]]}

    refused = assert_problem(api.post(BULK, reader, json=body), 403)

    assert refused["required_scope"] == "tasks:write"
    assert bulk(api, alice, token=writer, **body)["succeeded"] == 1


def test_idempotency_key_replays_the_first_answer(api: ApiClient, alice: Account) -> None:
    task = create(api, alice)
    headers = {"Idempotency-Key": "bulk-1"}
    body = {"action": "delete", "task_ids": [task["id"]]}

    first = api.post(BULK, alice.token, json=body, headers=headers)
    second = api.post(BULK, alice.token, json=body, headers=headers)

    assert first.get_json()["results"][0]["status"] == 204
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json()["results"][0]["status"] == 204


FAIL_ONE_UPDATE = """
CREATE FUNCTION bulk_test_refuse() RETURNS trigger AS $$
BEGIN
  IF NEW.id = {task_id} THEN
    RAISE EXCEPTION 'refused for the test' USING ERRCODE = '40001';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER bulk_test_refuse BEFORE UPDATE ON task
  FOR EACH ROW EXECUTE FUNCTION bulk_test_refuse();
"""
DROP_FAIL = """
DROP TRIGGER IF EXISTS bulk_test_refuse ON task;
DROP FUNCTION IF EXISTS bulk_test_refuse();
"""


def test_database_ending_one_items_transaction_on_postgresql_keeps_the_others(
    api: ApiClient, app: Flask, alice: Account, database_url: str, recorder: SignalRecorder
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a trigger ending the transaction mid-write: PostgreSQL")
    first, middle, last = (create(api, alice, title=t)["id"] for t in ("a", "b", "c"))
    recorder.events.clear()
    with app.app_context():
        engine = sa.create_engine(database_url)
        with engine.begin() as connection:
            connection.exec_driver_sql(FAIL_ONE_UPDATE.format(task_id=int(middle)))
    try:
        body = bulk(api, alice, action="complete", task_ids=[first, middle, last])
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(DROP_FAIL)
        engine.dispose()

    assert statuses(body) == [(first, 200), (middle, 409), (last, 200)]
    assert body["results"][1]["problem"]["type"].endswith("/concurrent-update")
    stored = [stored_task(app, i)["status"] for i in (first, middle, last)]  # type: ignore[index]
    assert stored == ["completed", "pending", "completed"]
    assert [(e.task_id, e.committed) for e in recorder.events] == [
        (first, "completed"),
        (last, "completed"),
    ]
