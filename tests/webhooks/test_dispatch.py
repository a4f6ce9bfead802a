"""The fan-out (``doable.webhooks.dispatch``): changes made through the API become
deliveries of the webhooks that subscribe to them, each with the event as its owner's
feed shows it and the task as they see it; each entry once, however many workers run."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.changes.models import Change
from doable.changes.service import prune
from doable.db import utcnow
from doable.extensions import db
from doable.webhooks.dispatch import fan_out
from doable.webhooks.models import Webhook
from tests.changes.feeds import feed, new_task
from tests.support.factories import Account, ApiClient, share
from tests.webhooks.hooks import add_webhook, deliveries, last_seq


def run_fan_out(app: Flask) -> int:
    with app.app_context():
        try:
            return fan_out()
        finally:
            db.session.remove()


def task_as(api: ApiClient, account: Account, task_id: int) -> dict[str, Any]:
    response = api.get(f"/api/tasks/{task_id}", account.token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_fan_out_queues_each_subscribed_change_with_the_event_and_the_task(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    webhook_id, _ = add_webhook(app, alice, ["task.created", "task.updated"])
    task_id = new_task(api, alice, title="Water the plants")
    edited = api.patch(f"/api/tasks/{task_id}", alice.token, json={"status": "completed"})
    assert edited.status_code == 200, edited.get_json()

    assert run_fan_out(app) == 2

    events = feed(api, alice)
    task = task_as(api, alice, task_id)
    queued = deliveries(app, webhook_id)
    assert [row["event_type"] for row in queued] == ["task.created", "task.updated"]
    for row, event in zip(queued, events, strict=True):
        assert row["message_id"] == f"msg_{webhook_id}_{event['seq']}"
        assert (row["seq"], row["change_id"], row["task_id"]) == (
            event["seq"],
            event["change_id"],
            task_id,
        )
        assert row["status"] == "pending"
        assert row["body"]["type"] == row["event_type"]
        assert row["body"]["data"] == {**event, "webhook_id": webhook_id, "task": task}
    assert queued[1]["body"]["data"]["changes"]["status"] == ["pending", "completed"]
    assert last_seq(app, webhook_id) == events[-1]["seq"]


def test_fan_out_passes_over_unsubscribed_types_and_still_moves_on(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    webhook_id, _ = add_webhook(app, alice, ["task.deleted"])
    new_task(api, alice)
    new_task(api, alice)

    assert run_fan_out(app) == 0

    assert deliveries(app) == []
    assert last_seq(app, webhook_id) == 2


def test_fan_out_sends_nothing_of_another_users_private_task(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    bobs, _ = add_webhook(app, bob, ["*"])
    new_task(api, alice)

    run_fan_out(app)

    assert deliveries(app, bobs) == []


def test_a_sharees_webhook_gets_the_shared_task_as_the_sharee_sees_it(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    task_id = new_task(api, alice, title="Plan the trip")
    bobs, _ = add_webhook(app, bob, ["*"])
    share(api, alice, task_id, bob, "view")
    edited = api.patch(f"/api/tasks/{task_id}", alice.token, json={"title": "Plan the trips"})
    assert edited.status_code == 200

    run_fan_out(app)

    queued = deliveries(app, bobs)
    assert [row["event_type"] for row in queued] == ["task.shared", "task.updated"]
    as_bob = task_as(api, bob, task_id)
    assert as_bob["access"] == "view"
    for row, event in zip(queued, feed(api, bob), strict=True):
        assert row["body"]["data"] == {**event, "webhook_id": bobs, "task": as_bob}


def test_a_task_gone_since_the_change_is_sent_as_null(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    webhook_id, _ = add_webhook(app, alice, ["task.created", "task.deleted"])
    task_id = new_task(api, alice)
    assert api.delete(f"/api/tasks/{task_id}", alice.token).status_code == 204

    run_fan_out(app)

    queued = deliveries(app, webhook_id)
    assert [row["event_type"] for row in queued] == ["task.created", "task.deleted"]
    assert [row["body"]["data"]["task"] for row in queued] == [None, None]


def test_a_second_fan_out_queues_nothing_more(app: Flask, api: ApiClient, alice: Account) -> None:
    add_webhook(app, alice, ["*"])
    new_task(api, alice)
    assert run_fan_out(app) == 1

    assert run_fan_out(app) == 0

    assert len(deliveries(app)) == 1


def test_webhooks_of_one_owner_at_different_positions_each_get_their_own_events(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    early, _ = add_webhook(app, alice, ["*"])
    new_task(api, alice, title="before the second webhook")
    late, _ = add_webhook(app, alice, ["task.created"])
    new_task(api, alice, title="after it")

    assert run_fan_out(app) == 3

    assert [row["seq"] for row in deliveries(app, early)] == [1, 2]
    assert [row["seq"] for row in deliveries(app, late)] == [2]
    assert (last_seq(app, early), last_seq(app, late)) == (2, 2)


def test_an_inactive_webhook_is_not_fanned_out(app: Flask, api: ApiClient, alice: Account) -> None:
    webhook_id, _ = add_webhook(app, alice, ["*"])
    with app.app_context():
        db.session.execute(sa.update(Webhook).values(active=False))
        db.session.commit()
    new_task(api, alice)

    run_fan_out(app)

    assert deliveries(app) == []
    assert last_seq(app, webhook_id) == 0


def test_a_long_backlog_is_fanned_out_in_batches_in_order(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    webhook_id, _ = add_webhook(app, alice, ["*"])
    for n in range(7):
        new_task(api, alice, title=f"task {n}")

    with app.app_context():
        assert fan_out(limit=3) == 7
        db.session.remove()

    assert [row["seq"] for row in deliveries(app, webhook_id)] == list(range(1, 8))


def test_entries_pruned_before_fan_out_are_skipped_with_a_warning(
    app: Flask, api: ApiClient, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    webhook_id, _ = add_webhook(app, alice, ["*"])
    for n in range(3):
        new_task(api, alice, title=f"old {n}")
    with app.app_context():
        old = utcnow() - timedelta(days=31)
        db.session.execute(sa.update(Change).values(at=old))
        db.session.commit()
        prune()
        db.session.remove()
    new_task(api, alice, title="new")

    with caplog.at_level(logging.WARNING, logger="doable.webhooks.dispatch"):
        run_fan_out(app)

    assert [row["seq"] for row in deliveries(app, webhook_id)] == [4]
    assert f"webhook {webhook_id}: feed entries 1 to 3 were pruned" in caplog.text


def test_a_feed_pruned_to_its_end_moves_the_webhook_to_it(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    webhook_id, _ = add_webhook(app, alice, ["*"])
    new_task(api, alice)
    with app.app_context():
        db.session.execute(sa.update(Change).values(at=utcnow() - timedelta(days=31)))
        db.session.commit()
        prune()
        db.session.remove()

    run_fan_out(app)

    assert deliveries(app) == []
    assert last_seq(app, webhook_id) == 1


WEBHOOKS = 4
CHANGES = 30


def test_concurrent_fan_outs_queue_each_delivery_once(
    make_app: Any, api: ApiClient, alice: Account
) -> None:
    app = api.client.application
    hooks = [add_webhook(app, alice, ["*"])[0] for _ in range(WEBHOOKS)]
    for n in range(CHANGES):
        new_task(api, alice, title=f"task {n}")
    others = [make_app() for _ in range(2)]  # each worker its own engine and connections
    barrier = threading.Barrier(len(others), timeout=10)
    counts: list[int] = []
    errors: list[BaseException] = []

    def work(worker: Flask) -> None:
        try:
            barrier.wait()
            with worker.app_context():
                counts.append(fan_out(limit=7))
                db.session.remove()
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(counts) == WEBHOOKS * CHANGES
    queued = deliveries(app)
    assert len(queued) == WEBHOOKS * CHANGES
    assert len({row["message_id"] for row in queued}) == len(queued)
    for webhook_id in hooks:
        assert [row["seq"] for row in queued if row["webhook_id"] == webhook_id] == list(
            range(1, CHANGES + 1)
        )
