"""The worker as real processes (docs/deploy.md): ``doable serve --with-worker`` alone
delivers; a ``doable worker`` killed mid-request loses nothing and sends nothing twice;
a Redis flushed while deliveries wait loses nothing; two workers on PostgreSQL share a
backlog without sending any attempt twice. The receiver is a real HTTP server on
127.0.0.1 (tests/support/receiver.py); signatures are checked with ``standardwebhooks``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from standardwebhooks.webhooks import Webhook as Verifier

from doable import create_app
from doable.extensions import db
from doable.webhooks.delivery import lease_seconds
from doable.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from tests.conftest import _create_postgres_database, _drop_postgres_database, base_config
from tests.faults.conftest import log_records, server_env
from tests.support.factories import HTTP_WAIT, Account
from tests.support.realtime import new_user
from tests.support.receiver import Answer, Receiver
from tests.support.servers import DOABLE, running_server, stop_server, wait_for
from tests.webhooks.hooks import add_webhook

pytestmark = pytest.mark.slow

#: Seconds a receiver has to answer: the lease of a killed worker's claim follows it.
TIMEOUT = 1.0
LEASE = lease_seconds(TIMEOUT)
WEBHOOK_ENV = {
    "DOABLE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "DOABLE_WEBHOOK_TIMEOUT": str(TIMEOUT),
    "DOABLE_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2,0.2,0.2",
    "DOABLE_WORKER_POLL_INTERVAL": "0.2",
}


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``doable worker``, once it has said it started."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [DOABLE, "worker"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for(lambda: _started_times(log_path) > 0 or process.poll() is not None, "worker up")
    assert process.poll() is None, log_path.read_text()
    return process


def _started_times(log_path: Path) -> int:
    return log_path.read_text(errors="replace").count('"message": "worker started"')


@pytest.fixture
def local_app(tmp_path: Path) -> Iterator[Callable[[str], Flask]]:
    """``local_app(url)``: an app on the processes' database, for the test's own reads
    and set-up; its connections are closed after the test (before the database goes)."""
    built: list[Flask] = []

    def build(url: str) -> Flask:
        built.append(create_app(base_config(url, tmp_path)))
        return built[-1]

    yield build
    for app in built:
        with app.app_context():
            db.engine.dispose()


def create_task(account: Account, title: str) -> int:
    response = account.call("POST", "/api/tasks", json={"title": title})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def delivery_states(app: Flask) -> dict[str, str]:
    """Each delivery's status, by message id."""
    with app.app_context():
        rows = db.session.execute(sa.select(WebhookDelivery.message_id, WebhookDelivery.status))
        states = {message: status for message, status in rows}
        db.session.remove()
    return states


def attempt_rows(app: Flask) -> dict[str, list[str]]:
    """Each delivery's attempts' outcomes, in order, by message id."""
    query = (
        sa.select(WebhookDelivery.message_id, WebhookAttempt.outcome)
        .join(WebhookAttempt, WebhookAttempt.delivery_id == WebhookDelivery.id)
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    )
    found: dict[str, list[str]] = {}
    with app.app_context():
        for message, outcome in db.session.execute(query):
            found.setdefault(message, []).append(outcome)
        db.session.remove()
    return found


def all_succeeded(app: Flask, count: int) -> Any:
    def check() -> bool:
        states = delivery_states(app)
        return len(states) == count and set(states.values()) == {"succeeded"}

    return check


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'doable.sqlite3'}"


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    admin = request.getfixturevalue("postgres_admin_engine")
    name, url = _create_postgres_database(admin)
    yield url
    _drop_postgres_database(admin, name)


def test_serve_with_worker_delivers_a_change_signed(
    sqlite_url: str, tmp_path: Path, receiver: Receiver, local_app: Callable[[str], Flask]
) -> None:
    env = server_env(sqlite_url, tmp_path, **WEBHOOK_ENV)
    with running_server(env, "--with-worker", log_path=tmp_path / "serve.log") as base:
        alice = new_user(base, prefix="hook")
        webhook_id, secret = add_webhook(local_app(sqlite_url), alice, ["*"], receiver.url)
        task_id = create_task(alice, "Renew the passport")

        (request,) = receiver.wait_for(1)

    Verifier(secret).verify(request.body, request.headers)
    body = json.loads(request.body)
    assert (body["type"], body["data"]["task_id"]) == ("task.created", task_id)
    assert body["data"]["task"]["title"] == "Renew the passport"
    assert request.headers["webhook-id"] == f"msg_{webhook_id}_1"


def test_a_worker_killed_mid_request_is_taken_over_after_its_lease(
    sqlite_url: str, tmp_path: Path, receiver: Receiver, local_app: Callable[[str], Flask]
) -> None:
    env = server_env(sqlite_url, tmp_path, **WEBHOOK_ENV)
    app = local_app(sqlite_url)
    log_path = tmp_path / "worker.log"
    receiver.answer(Answer(hang=True), Answer(200))
    with ExitStack() as stack:
        base = stack.enter_context(running_server(env, log_path=tmp_path / "serve.log"))
        alice = new_user(base, prefix="hook")
        webhook_id, secret = add_webhook(app, alice, ["*"], receiver.url)
        worker = start_worker(env, log_path)
        stack.callback(stop_server, worker)
        create_task(alice, "Interrupted")
        receiver.wait_for(1)  # the request is open: the receiver holds it

        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=HTTP_WAIT)
        restarted = start_worker(env, log_path)
        stack.callback(stop_server, restarted)
        wait_for(all_succeeded(app, 1), "the delivery taken over", limit=LEASE + 15)

    message = f"msg_{webhook_id}_1"
    assert attempt_rows(app) == {message: ["interrupted", "succeeded"]}
    sent = receiver.requests
    assert [request.headers["webhook-id"] for request in sent] == [message, message]
    for request in sent:
        Verifier(secret).verify(request.body, request.headers)


def test_a_redis_flushed_while_deliveries_wait_loses_none_of_them(
    sqlite_url: str,
    tmp_path: Path,
    receiver: Receiver,
    redis_url: str,
    redis_prefix: str,
    local_app: Callable[[str], Flask],
) -> None:
    env = server_env(
        sqlite_url, tmp_path, REDIS_URL=redis_url, DOABLE_REDIS_PREFIX=redis_prefix, **WEBHOOK_ENV
    )
    app = local_app(sqlite_url)
    log_path = tmp_path / "worker.log"
    receiver.answer(*[Answer(503)] * 3)
    with ExitStack() as stack:
        base = stack.enter_context(running_server(env, log_path=tmp_path / "serve.log"))
        alice = new_user(base, prefix="hook")
        add_webhook(app, alice, ["*"], receiver.url)
        worker = start_worker(env, log_path)
        for n in range(3):
            create_task(alice, f"before {n}")
        receiver.wait_for(3)  # each refused once: pending, to be retried
        stop_server(worker)
        for n in range(2):
            create_task(alice, f"while down {n}")
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        client.close()

        restarted = start_worker(env, log_path)
        stack.callback(stop_server, restarted)
        wait_for(all_succeeded(app, 5), "every delivery made")

    titles = {json.loads(request.body)["data"]["task"]["title"] for request in receiver.requests}
    assert titles == {"before 0", "before 1", "before 2", "while down 0", "while down 1"}


WEBHOOKS = 6
TASKS = 50


def test_two_workers_on_postgresql_share_a_backlog_and_send_no_attempt_twice(
    postgres_url: str, tmp_path: Path, receiver: Receiver, local_app: Callable[[str], Flask]
) -> None:
    # Within what the receiver takes at once (http.server's listen backlog is 5): a
    # connection it drops is an attempt it never sees, and this counts what it saw.
    calm = {**WEBHOOK_ENV, "DOABLE_WORKER_CONCURRENCY": "2", "DOABLE_WEBHOOK_TIMEOUT": "5"}
    env = server_env(postgres_url, tmp_path, **calm)
    app = local_app(postgres_url)
    with ExitStack() as stack:
        base = stack.enter_context(running_server(env, log_path=tmp_path / "serve.log"))
        alice = new_user(base, prefix="hook")
        hooks = [add_webhook(app, alice, ["*"], receiver.url)[0] for _ in range(WEBHOOKS)]
        _set_active(app, hooks, active=False)  # the backlog builds up unseen
        for n in range(TASKS):
            create_task(alice, f"task {n}")
        logs = [tmp_path / f"worker{n}.log" for n in range(2)]
        for log_path in logs:
            stack.callback(stop_server, start_worker(env, log_path))

        _set_active(app, hooks, active=True)  # both workers see it at their next poll
        wait_for(all_succeeded(app, WEBHOOKS * TASKS), "the backlog delivered", limit=60)

    received = Counter(request.headers["webhook-id"] for request in receiver.requests)
    rows = attempt_rows(app)
    assert len(rows) == WEBHOOKS * TASKS
    assert {message: len(outcomes) for message, outcomes in rows.items()} == dict(received)
    assert set(received.values()) == {1}
    for log_path in logs:  # each worker did a share, and said so in its structured log
        rounds = [r for r in log_records(log_path) if r.get("event") == "worker_round"]
        assert sum(r["sent"] for r in rounds) > 0, log_path.read_text()


def _set_active(app: Flask, webhook_ids: list[int], *, active: bool) -> None:
    with app.app_context():
        db.session.execute(
            sa.update(Webhook).where(Webhook.id.in_(webhook_ids)).values(active=active)
        )
        db.session.commit()
        db.session.remove()


def _held_attempt(
    stack: ExitStack, app: Flask, sqlite_url: str, tmp_path: Path, receiver: Receiver, timeout: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """A ``doable worker`` whose one attempt the receiver holds open (for up to
    ``timeout`` seconds, the worker's limit); the worker and its log."""
    env = server_env(sqlite_url, tmp_path, **{**WEBHOOK_ENV, "DOABLE_WEBHOOK_TIMEOUT": timeout})
    log_path = tmp_path / "worker.log"
    receiver.answer(Answer(hang=True))
    base = stack.enter_context(running_server(env, log_path=tmp_path / "serve.log"))
    alice = new_user(base, prefix="hook")
    add_webhook(app, alice, ["*"], receiver.url)
    worker = start_worker(env, log_path)
    stack.callback(stop_server, worker)
    create_task(alice, "Held")
    receiver.wait_for(1)
    return worker, log_path


def test_sigterm_lets_the_attempt_in_flight_end_then_exits(
    sqlite_url: str, tmp_path: Path, receiver: Receiver, local_app: Callable[[str], Flask]
) -> None:
    with ExitStack() as stack:
        app = local_app(sqlite_url)
        worker, log_path = _held_attempt(stack, app, sqlite_url, tmp_path, receiver, "2")

        worker.send_signal(signal.SIGTERM)

        assert worker.wait(timeout=HTTP_WAIT + 2) == 0
    assert list(attempt_rows(app).values()) == [["retrying"]]  # timed out, and recorded
    assert '"message": "worker stopped"' in log_path.read_text()


def test_a_second_signal_stops_the_worker_at_once(
    sqlite_url: str, tmp_path: Path, receiver: Receiver, local_app: Callable[[str], Flask]
) -> None:
    with ExitStack() as stack:
        app = local_app(sqlite_url)
        worker, log_path = _held_attempt(stack, app, sqlite_url, tmp_path, receiver, "60")
        worker.send_signal(signal.SIGTERM)
        wait_for(lambda: "worker stopping" in log_path.read_text(), "the first signal heard")

        worker.send_signal(signal.SIGINT)

        assert worker.wait(timeout=HTTP_WAIT) == 128 + signal.SIGINT
    assert list(attempt_rows(app).values()) == [["sending"]]  # a later claim: interrupted
