"""Sending deliveries (docs/api.md, Delivery): to a real receiver on 127.0.0.1, whose
answers each test queues; signatures checked with the ``standardwebhooks`` package."""

from __future__ import annotations

from typing import Any

from standardwebhooks.webhooks import Webhook as Verifier

from tests.support.receiver import Answer, Receiver
from tests.support.webhooks import (
    FAST,
    attempts,
    deliver_until,
    new_webhook,
    queue_delivery,
    settled,
    stored,
)


def test_a_delivery_retried_through_three_500s_succeeds_on_the_fourth_attempt(
    make_app: Any, receiver: Receiver
) -> None:
    app = make_app(**FAST)
    from tests.support.factories import ApiClient

    alice = ApiClient(app.test_client()).account("alice")
    webhook_id, secret = new_webhook(app, alice.id, receiver.url)
    delivery_id = queue_delivery(app, webhook_id, task_id=7)
    receiver.answer(Answer(500), Answer(500), Answer(500), Answer(200))

    deliver_until(app, settled(app, delivery_id))

    logged = attempts(app, delivery_id)
    assert [a["outcome"] for a in logged] == ["retrying"] * 3 + ["succeeded"]
    assert [a["response_status"] for a in logged] == [500, 500, 500, 200]
    assert stored(app, delivery_id)["status"] == "succeeded"
    sent = receiver.wait_for(4)
    assert len(sent) == 4
    for request in sent:
        Verifier(secret).verify(request.body, request.headers)
