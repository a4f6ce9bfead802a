"""Sending deliveries (docs/api.md, Delivery): to a real receiver on 127.0.0.1 (allowed
for these tests), whose answers each test queues; signatures checked with the
``standardwebhooks`` package; retries after 50 ms."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from standardwebhooks.webhooks import Webhook as Verifier

from doable.db import utcnow
from doable.extensions import db
from doable.unit_of_work import unit_of_work
from doable.webhooks import delivery, queue
from doable.webhooks.health import GONE
from doable.webhooks.models import Webhook, WebhookDelivery
from doable.webhooks.outbound import Outcome
from doable.webhooks.signing import new_secret
from tests.changes.feeds import feed
from tests.conftest import base_config
from tests.support.factories import Account, ApiClient
from tests.support.realtime import sent
from tests.support.receiver import Answer, Receiver
from tests.support.webhooks import (
    FAST,
    attempts,
    deliver_until,
    new_webhook,
    queue_delivery,
    settled,
    stored,
    stored_webhook,
    update_row,
)


@pytest.fixture
def app(make_app: Any) -> Flask:
    """One delivery at a time: the receiver's answers go to them in order."""
    return make_app(**FAST, WORKER_CONCURRENCY=1)  # type: ignore[no-any-return]


@pytest.fixture
def hook(app: Flask, alice: Account, receiver: Receiver) -> tuple[int, str]:
    """alice's webhook to the receiver: its id and secret."""
    return new_webhook(app, alice.id, receiver.url)


def send_once(app: Flask) -> int:
    with app.app_context():
        return delivery.send_due(limit=10)


def test_three_500s_then_a_200_make_four_signed_attempts_and_one_success(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    webhook_id, secret = hook
    delivery_id = queue_delivery(app, webhook_id, task_id=7)
    receiver.answer(Answer(500), Answer(500), Answer(500), Answer(200, body=b"thanks"))

    made = deliver_until(app, settled(app, delivery_id))

    logged = attempts(app, delivery_id)
    assert made == 4
    assert [a["outcome"] for a in logged] == ["retrying"] * 3 + ["succeeded"]
    assert [a["number"] for a in logged] == [1, 2, 3, 4]
    assert [a["response_status"] for a in logged] == [500, 500, 500, 200]
    assert logged[-1]["response_body"] == "thanks"
    row = stored(app, delivery_id)
    assert (row["status"], row["attempts"], row["claimed_until"]) == ("succeeded", 4, None)
    assert row["next_attempt_at"] is None
    sent = receiver.wait_for(4)
    assert len(sent) == 4
    for request, attempt in zip(sent, logged, strict=True):
        assert request.body == row["payload"].encode()
        assert Verifier(secret).verify(request.body, request.headers)["data"] == {"task_id": 7}
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == "Doable-Webhooks/1"
        assert request.headers["webhook-id"] == row["message_id"]
        assert {k.lower(): v for k, v in attempt["request_headers"].items()}.items() <= (
            request.headers.items()
        )


def test_a_404_fails_the_delivery_at_once(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(404))

    deliver_until(app, settled(app, delivery_id))

    assert [a["outcome"] for a in attempts(app, delivery_id)] == ["failed"]
    assert stored(app, delivery_id)["status"] == "failed"
    webhook = stored_webhook(app, hook[0])
    assert webhook["active"] is True
    assert webhook["failing_since"] is not None


def test_a_410_disables_the_webhook_and_tells_its_owner_in_the_feed(
    app: Flask, api: ApiClient, alice: Account, hook: tuple[int, str], receiver: Receiver
) -> None:
    first = queue_delivery(app, hook[0])
    receiver.answer(Answer(410))

    deliver_until(app, settled(app, first))

    webhook = stored_webhook(app, hook[0])
    assert (webhook["active"], webhook["disabled_reason"]) == (
        False,
        "the receiver answered 410 Gone",
    )
    [event] = feed(api, alice)
    assert (event["entity"], event["action"], event["actor"]) == (
        {"type": "webhook", "id": hook[0]},
        "webhook_disabled",
        None,
    )
    assert event["changes"] == {
        "active": [True, False],
        "disabled_reason": [None, "the receiver answered 410 Gone"],
    }
    assert stored(app, first)["status"] == "failed"
    later = queue_delivery(app, hook[0])
    assert send_once(app) == 0
    assert stored(app, later)["status"] == "pending"  # kept for when it is turned back on
    assert len(receiver.requests) == 1


def test_a_disabled_webhook_is_announced_to_its_owners_open_sockets(
    app: Flask, alice: Account, hook: tuple[int, str], receiver: Receiver
) -> None:
    socket = app.extensions["socketio"].test_client(app, auth={"token": alice.token})
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(410))

    deliver_until(app, settled(app, delivery_id))

    sent(app)
    received = [(m["name"], m["args"][0]) for m in socket.get_received()]
    socket.disconnect()  # else the process re-checks its login after the database is gone
    assert received == [("webhook_disabled", {"id": hook[0], "disabled_reason": GONE, "seq": 1})]


@pytest.mark.parametrize("header", ["120", "date"])
def test_a_429_waits_as_long_as_its_retry_after_asks(
    app: Flask, hook: tuple[int, str], receiver: Receiver, header: str
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    value = "120" if header == "120" else format_datetime(utcnow() + timedelta(seconds=121), True)
    receiver.answer(Answer(429, headers={"Retry-After": value}))
    before = utcnow()

    assert send_once(app) == 1

    row = stored(app, delivery_id)
    assert row["status"] == "pending"
    assert before + timedelta(seconds=118) <= row["next_attempt_at"]
    assert row["next_attempt_at"] <= utcnow() + timedelta(seconds=122)
    with app.app_context():
        assert 100 < (delivery.next_due_in() or 0) <= 122


def test_a_retry_after_beyond_a_day_waits_a_day(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(429, headers={"Retry-After": "99999999"}))

    send_once(app)

    wait = stored(app, delivery_id)["next_attempt_at"] - utcnow()
    assert timedelta(hours=23, minutes=59) < wait <= timedelta(days=1)


def test_a_receiver_that_never_answers_times_out_and_is_tried_again(
    make_app: Any, alice: Account, receiver: Receiver
) -> None:
    app = make_app(**FAST, WEBHOOK_TIMEOUT=0.3)
    delivery_id = queue_delivery(app, new_webhook(app, alice.id, receiver.url)[0])
    receiver.answer(Answer(hang=True))

    assert send_once(app) == 1

    [attempt] = attempts(app, delivery_id)
    assert attempt["outcome"] == "retrying"
    assert attempt["error"] == "timed out after 0.3 s"
    assert attempt["response_status"] is None
    assert 250 <= attempt["duration_ms"] < 2000
    assert stored(app, delivery_id)["status"] == "pending"


def test_a_redirect_is_recorded_and_not_followed(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(302, headers={"Location": "http://169.254.169.254/latest/"}))

    deliver_until(app, settled(app, delivery_id))

    [attempt] = attempts(app, delivery_id)
    assert (attempt["outcome"], attempt["response_status"]) == ("failed", 302)
    assert attempt["error"] == "redirects are not followed"
    assert attempt["response_headers"]["Location"] == "http://169.254.169.254/latest/"
    assert len(receiver.requests) == 1


def test_a_large_answer_is_kept_to_its_first_4_kb(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(200, body=b"\xe2\x82\xac" + b"x" * 1_000_000))

    deliver_until(app, settled(app, delivery_id))

    [attempt] = attempts(app, delivery_id)
    assert attempt["outcome"] == "succeeded"
    assert attempt["response_body"] == "€" + "x" * (4096 - 3)
    assert attempt["duration_ms"] < 1000


def test_a_failing_delivery_holds_back_its_tasks_later_ones_only(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    a1 = queue_delivery(app, hook[0], task_id=1)
    a2 = queue_delivery(app, hook[0], task_id=1)
    b1 = queue_delivery(app, hook[0], task_id=2)
    ping = queue_delivery(app, hook[0])
    receiver.answer(Answer(503, headers={"Retry-After": "3600"}))

    assert send_once(app) == 3  # a1, b1 and the ping; a2 waits for a1

    assert stored(app, a2)["attempts"] == 0
    with app.app_context():
        assert 3500 < (delivery.next_due_in() or 0) <= 3600  # a1's retry, not a2
    update_row(app, WebhookDelivery, a1, next_attempt_at=utcnow())
    deliver_until(app, settled(app, a2))
    ids = {stored(app, d)["message_id"]: d for d in (a1, a2, b1, ping)}
    assert [ids[r.headers["webhook-id"]] for r in receiver.requests] == [a1, b1, ping, a1, a2]


def test_a_success_clears_the_webhooks_failing_since(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(500))
    send_once(app)
    assert stored_webhook(app, hook[0])["failing_since"] is not None

    deliver_until(app, settled(app, delivery_id))

    assert stored_webhook(app, hook[0])["failing_since"] is None


def test_a_webhook_failing_for_a_day_is_disabled_and_its_owner_told(
    app: Flask, api: ApiClient, alice: Account, hook: tuple[int, str], receiver: Receiver
) -> None:
    update_row(app, Webhook, hook[0], failing_since=utcnow() - timedelta(hours=23, minutes=59))
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(500), Answer(500))
    send_once(app)
    assert stored_webhook(app, hook[0])["active"] is True  # not yet a day
    update_row(app, Webhook, hook[0], failing_since=utcnow() - timedelta(days=1))

    deliver_until(app, lambda: not stored_webhook(app, hook[0])["active"])

    reason = "its deliveries failed for a day without a success"
    assert stored_webhook(app, hook[0])["disabled_reason"] == reason
    assert [(e["action"], e["changes"]["disabled_reason"]) for e in feed(api, alice)] == [
        ("webhook_disabled", [None, reason])
    ]
    assert stored(app, delivery_id)["status"] == "pending"  # sent if it is turned back on


def test_a_webhook_failing_for_webhook_disable_after_seconds_is_disabled(
    make_app: Any, alice: Account, receiver: Receiver
) -> None:
    retrying = {**FAST, "WEBHOOK_RETRY_SCHEDULE": [0.05] * 100}
    app = make_app(**retrying, WEBHOOK_DISABLE_AFTER=0.3, WORKER_CONCURRENCY=1)
    webhook_id = new_webhook(app, alice.id, receiver.url)[0]
    delivery_id = queue_delivery(app, webhook_id)
    receiver.answer(*[Answer(503)] * 100)

    deliver_until(app, lambda: not stored_webhook(app, webhook_id)["active"])

    logged = attempts(app, delivery_id)
    assert len(logged) >= 3  # the first failures did not disable it
    ended = logged[-1]["started_at"] + timedelta(milliseconds=logged[-1]["duration_ms"])
    assert ended - logged[0]["started_at"] >= timedelta(seconds=0.3)
    assert stored_webhook(app, webhook_id)["disabled_reason"] == (
        "its deliveries failed for 0.3 seconds without a success"
    )


def test_the_previous_secret_signs_too_until_it_expires(
    app: Flask, alice: Account, receiver: Receiver
) -> None:
    old = new_secret()
    expires = utcnow() + timedelta(hours=1)
    webhook_id, secret = new_webhook(
        app, alice.id, receiver.url, previous_secret=old, previous_secret_expires_at=expires
    )
    queue_delivery(app, webhook_id)
    send_once(app)
    update_row(app, Webhook, webhook_id, previous_secret_expires_at=utcnow())
    queue_delivery(app, webhook_id)
    send_once(app)

    rotating, after = receiver.wait_for(2)
    for key in (secret, old):
        Verifier(key).verify(rotating.body, rotating.headers)
    Verifier(secret).verify(after.body, after.headers)
    assert len(after.headers["webhook-signature"].split()) == 1


def test_next_due_in_counts_only_deliveries_that_may_be_sent(
    app: Flask, alice: Account, hook: tuple[int, str]
) -> None:
    with app.app_context():
        assert delivery.next_due_in() is None
    later = queue_delivery(app, hook[0])
    update_row(app, WebhookDelivery, later, next_attempt_at=utcnow() + timedelta(minutes=10))
    off = new_webhook(app, alice.id, "http://127.0.0.1:9/", active=False)[0]
    queue_delivery(app, off)
    with app.app_context():
        assert 590 < (delivery.next_due_in() or 0) <= 600
    queue_delivery(app, hook[0])
    with app.app_context():
        assert delivery.next_due_in() == 0


def test_a_retry_after_of_digits_python_alone_reads_falls_back_to_the_schedule(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(503, headers={"Retry-After": "\u00b2"}))  # "²": isdigit(), not a number

    assert send_once(app) == 1

    row = stored(app, delivery_id)
    assert row["status"] == "pending"
    assert row["claimed_until"] is None  # recorded: retried on the schedule, not the lease
    assert [a["outcome"] for a in attempts(app, delivery_id)] == ["retrying"]


def test_an_answer_with_a_nul_byte_is_recorded_on_every_database(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    receiver.answer(Answer(200, body=b"ok\x00gz"))

    assert send_once(app) == 1

    assert stored(app, delivery_id)["status"] == "succeeded"
    [attempt] = attempts(app, delivery_id)
    assert attempt["response_body"] == "ok\ufffdgz"


def test_a_redelivery_asked_while_an_attempt_is_out_is_still_sent(
    app: Flask, hook: tuple[int, str]
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    with app.app_context():
        [claim] = delivery.claim_due(limit=10)
    with app.app_context(), unit_of_work():
        queue.send_again(db.session.get_one(WebhookDelivery, delivery_id))  # redeliver

    with app.app_context():
        verdict = delivery.record_outcome(claim=claim, sent=Outcome(duration_ms=5, status=200))

    assert verdict is not None
    assert verdict.outcome == "succeeded"
    row = stored(app, delivery_id)
    assert (row["status"], row["claimed_until"]) == ("pending", None)
    assert [a["outcome"] for a in attempts(app, delivery_id)] == ["succeeded"]


def test_a_claim_whose_lease_ran_out_is_taken_again_with_a_new_attempt(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    with app.app_context():
        [claim] = delivery.claim_due(limit=10)  # its worker dies before sending
        assert delivery.claim_due(limit=10) == []  # held
    update_row(app, WebhookDelivery, delivery_id, claimed_until=utcnow())

    deliver_until(app, settled(app, delivery_id))

    logged = attempts(app, delivery_id)
    assert [(a["number"], a["outcome"]) for a in logged] == [(1, "interrupted"), (2, "succeeded")]
    assert claim.number == 1
    assert len(receiver.requests) == 1


def test_a_worker_slower_than_its_lease_cannot_overwrite_the_newer_attempt(
    app: Flask, hook: tuple[int, str]
) -> None:
    delivery_id = queue_delivery(app, hook[0])
    with app.app_context():
        [stale] = delivery.claim_due(limit=10)
    update_row(app, WebhookDelivery, delivery_id, claimed_until=utcnow())
    with app.app_context():
        [fresh] = delivery.claim_due(limit=10)
        assert delivery.record_outcome(claim=stale, sent=Outcome(duration_ms=5, status=200)) is None
        row = stored(app, delivery_id)
        assert (row["status"], row["attempts"]) == ("pending", 2)
        assert row["claimed_until"] is not None
        assert [a["outcome"] for a in attempts(app, delivery_id)] == ["interrupted", "sending"]

        verdict = delivery.record_outcome(claim=fresh, sent=Outcome(duration_ms=5, status=200))

    assert verdict is not None
    assert verdict.outcome == "succeeded"
    assert [a["outcome"] for a in attempts(app, delivery_id)] == ["interrupted", "succeeded"]


def test_two_workers_claiming_at_once_never_claim_the_same_delivery(
    app: Flask, hook: tuple[int, str]
) -> None:
    queued = {queue_delivery(app, hook[0]) for _ in range(60)}
    claimed: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def worker(mine: list[int]) -> None:
        with app.app_context():
            start.wait()
            while batch := delivery.claim_due(limit=3):
                mine += [claim.delivery_id for claim in batch]

    threads = [threading.Thread(target=worker, args=(mine,)) for mine in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    first, second = claimed
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(queued)
    assert all(len(attempts(app, d)) == 1 for d in queued)


def test_the_body_sent_is_the_queued_payload_byte_for_byte(
    app: Flask, hook: tuple[int, str], receiver: Receiver
) -> None:
    delivery_id = queue_delivery(app, hook[0], data={"title": "Café ☕", "n": 1})

    deliver_until(app, settled(app, delivery_id))

    [request] = receiver.wait_for(1)
    assert json.loads(request.body)["data"] == {"title": "Café ☕", "n": 1}
    assert request.body == stored(app, delivery_id)["payload"].encode()


#: ``send_due`` in a process of its own under gevent's monkey-patching, as ``doable
#: serve`` runs it: its threads are greenlets. Prints the attempts and the seconds taken.
GEVENT_SEND = """
from gevent import monkey
monkey.patch_all()
import json, sys, time
from doable import create_app
from doable.webhooks.delivery import send_due
app = create_app(json.loads(sys.argv[1]))
with app.app_context():
    started = time.monotonic()
    print(send_due(limit=10), time.monotonic() - started)
"""


def test_under_gevent_the_deliveries_are_sent_at_once_in_greenlets(
    make_app: Any, alice: Account, receiver: Receiver, database_url: str, tmp_path: Path
) -> None:
    settings = {**FAST, "WEBHOOK_TIMEOUT": 0.5, "WORKER_CONCURRENCY": 4}
    app = make_app(**settings)
    webhook_id = new_webhook(app, alice.id, receiver.url)[0]
    queued = [queue_delivery(app, webhook_id) for _ in range(4)]
    receiver.answer(*[Answer(hang=True)] * 4)
    config = json.dumps(base_config(database_url, tmp_path, **settings))

    ran = subprocess.run(
        [sys.executable, "-c", GEVENT_SEND, config],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip

    made, seconds = ran.stdout.split()
    assert int(made) == 4
    assert float(seconds) < 1.5  # one after another: 2 s and more
    for delivery_id in queued:
        [attempt] = attempts(app, delivery_id)
        assert (attempt["outcome"], attempt["error"]) == ("retrying", "timed out after 0.5 s")
