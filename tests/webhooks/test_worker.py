"""The worker's loop (``doable.worker``) in this process: a change made through the API
reaches a real receiver, signed; the loop is woken by this process's signals and by
Redis from another app; Redis or the database away never stops it; ``doable worker
--once`` runs one round; ``doable changes prune`` takes old finished deliveries."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from standardwebhooks.webhooks import Webhook as Verifier

from doable import create_app
from doable.db import utcnow
from doable.extensions import db
from doable.webhooks.models import WebhookAttempt, WebhookDelivery
from doable.worker import FIRST_BACKOFF, Worker
from tests.changes.feeds import new_task
from tests.conftest import base_config
from tests.support.factories import ApiClient
from tests.support.receiver import Receiver
from tests.support.servers import free_port, wait_for
from tests.support.webhooks import FAST, update_row
from tests.webhooks.hooks import add_webhook, attempts, deliveries

#: A poll interval no test waits for: what arrives sooner was woken.
SLOW_POLL = {"WORKER_POLL_INTERVAL": 60}


@contextmanager
def running(app: Flask) -> Iterator[Worker]:
    """The worker's loop on ``app`` in a thread; stopped (and joined) after."""
    worker = Worker(app)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the worker did not stop"


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.requests]


def test_worker_once_delivers_a_change_signed(make_app: Any, receiver: Receiver) -> None:
    app = make_app(**FAST)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    webhook_id, secret = add_webhook(app, alice, ["task.created"], url=receiver.url)
    task_id = new_task(api, alice, title="Call the plumber")

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    (request,) = receiver.wait_for(1)
    Verifier(secret).verify(request.body, request.headers)
    body = json.loads(request.body)
    assert body["type"] == "task.created"
    assert body["data"]["task"]["title"] == "Call the plumber"
    assert body["data"]["task_id"] == task_id
    assert request.headers["webhook-id"] == f"msg_{webhook_id}_1"
    assert [row["status"] for row in deliveries(app)] == ["succeeded"]


def test_a_change_wakes_the_worker_of_its_process(make_app: Any, receiver: Receiver) -> None:
    app = make_app(**FAST, **SLOW_POLL)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    add_webhook(app, alice, ["*"], url=receiver.url)
    with running(app):
        new_task(api, alice, title="first")
        receiver.wait_for(1)
        new_task(api, alice, title="second")
        receiver.wait_for(2)

    assert [body["data"]["task"]["title"] for body in bodies(receiver)] == ["first", "second"]


def test_a_change_in_another_process_wakes_the_worker_through_redis(
    make_app: Any, receiver: Receiver, redis_url: str, redis_prefix: str
) -> None:
    shared = {"REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix, **FAST, **SLOW_POLL}
    worker_app = make_app(**shared)
    web_app = make_app(**shared)  # another app: its signals never reach the worker's
    api = ApiClient(web_app.test_client())
    alice = api.account("alice")
    add_webhook(web_app, alice, ["*"], url=receiver.url)
    with running(worker_app):
        wait_for(lambda: _subscribed(redis_url, redis_prefix), "the worker listens on Redis")
        new_task(api, alice, title="first")
        receiver.wait_for(1)  # sent after that round's fan-out: the next change needs a wake
        new_task(api, alice, title="from elsewhere")
        receiver.wait_for(2)

    assert [body["data"]["task"]["title"] for body in bodies(receiver)] == [
        "first",
        "from elsewhere",
    ]


def _subscribed(redis_url: str, prefix: str) -> bool:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return bool(dict(client.pubsub_numsub(f"{prefix}:worker")).get(f"{prefix}:worker".encode()))
    finally:
        client.close()


def test_redis_away_stops_neither_a_write_nor_the_worker(
    make_app: Any, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(REDIS_URL=nowhere, WORKER_POLL_INTERVAL=0.2, **FAST)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    add_webhook(app, alice, ["*"], url=receiver.url)
    with caplog.at_level(logging.WARNING), running(app):
        new_task(api, alice, title="still delivered")
        receiver.wait_for(1)

    assert bodies(receiver)[0]["data"]["task"]["title"] == "still delivered"
    assert "could not wake the workers through Redis" in caplog.text
    assert "worker: Redis unreachable" in caplog.text


def test_a_failing_round_is_logged_and_retried_after_a_growing_pause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
    worker = Worker(create_app(base_config(nowhere, tmp_path)))

    with caplog.at_level(logging.ERROR, logger="doable.worker"):
        pauses = [worker.round() for _ in range(3)]

    assert pauses == [FIRST_BACKOFF, 2 * FIRST_BACKOFF, 4 * FIRST_BACKOFF]
    assert worker.failures == 3
    assert caplog.text.count("worker round failed") == 3


def test_worker_once_exits_non_zero_when_its_round_failed(tmp_path: Path) -> None:
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"
    app = create_app(base_config(nowhere, tmp_path))

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code == 1
    assert "the round failed" in result.output


def test_prune_removes_old_finished_deliveries_and_their_attempts_not_pending_ones(
    make_app: Any, receiver: Receiver
) -> None:
    app = make_app(**FAST)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    add_webhook(app, alice, ["*"], url=receiver.url)
    for title in ("old done", "old pending", "new done"):
        new_task(api, alice, title=title)
    assert app.test_cli_runner().invoke(args=["worker", "--once"]).exit_code == 0
    receiver.wait_for(3)
    old_done, old_pending, _ = _delivery_ids(app)
    long_ago = utcnow() - timedelta(days=31)
    update_row(app, WebhookDelivery, old_done, created_at=long_ago)
    update_row(app, WebhookDelivery, old_pending, created_at=long_ago, status="pending")

    result = app.test_cli_runner().invoke(args=["changes", "prune"])

    assert result.exit_code == 0, result.output
    assert result.output.endswith("and 1 webhook delivery(ies)\n")
    assert [row["task_id"] for row in deliveries(app)] == [2, 3]
    assert [message for message, _, _ in attempts(app)] == [
        row["message_id"] for row in deliveries(app)
    ]
    assert _attempts_of(app, old_done) == 0


def _delivery_ids(app: Flask) -> list[int]:
    with app.app_context():
        ids = list(db.session.scalars(sa.select(WebhookDelivery.id).order_by(WebhookDelivery.id)))
        db.session.remove()
    return ids


def _attempts_of(app: Flask, delivery_id: int) -> int:
    with app.app_context():
        query = sa.select(sa.func.count()).where(WebhookAttempt.delivery_id == delivery_id)
        count = int(db.session.scalar(query) or 0)
        db.session.remove()
    return count


def test_the_sharee_is_told_with_their_view_when_a_task_is_shared(
    make_app: Any, receiver: Receiver
) -> None:
    app = make_app(**FAST)
    api = ApiClient(app.test_client())
    alice, bob = api.account("alice"), api.account("bob")
    task_id = new_task(api, alice, title="Shared one")
    add_webhook(app, bob, ["task.shared"], url=receiver.url)
    shared = api.post(
        f"/api/tasks/{task_id}/share",
        alice.token,
        json={"username": bob.username, "permission": "edit"},
    )
    assert shared.status_code == 201

    assert app.test_cli_runner().invoke(args=["worker", "--once"]).exit_code == 0

    (request,) = receiver.wait_for(1)
    task = json.loads(request.body)["data"]["task"]
    assert (task["id"], task["access"], task["owner"]["id"]) == (task_id, "edit", alice.id)
