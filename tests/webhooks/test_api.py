"""Managing webhooks through the API: create, read, change, delete, test pings, secret
rotation, and the delivery log with redelivery. Nothing here is sent: delivery rows
are written as the engine would leave them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from flask import Flask

from doable import signals
from doable.changes.service import feed_position
from doable.db import utcnow
from doable.extensions import db
from doable.webhooks.models import (
    EVENT_TYPES,
    FAILED,
    PENDING,
    SUCCEEDED,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from tests.support.factories import (
    HUGE_ID,
    TIMESTAMP,
    Account,
    ApiClient,
    assert_problem,
)
from tests.support.webhooks import (
    HOOK_URL,
    add_webhook,
    count_rows,
    insert_delivery,
    set_webhook,
    webhook_row,
)

READ_FIELDS = {
    "id",
    "url",
    "events",
    "description",
    "active",
    "disabled_reason",
    "failing_since",
    "created_at",
    "updated_at",
}
SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")


# --- create -----------------------------------------------------------------------------


def test_create_webhook_answers_it_with_its_secret_and_location(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    response = api.post(
        "/api/webhooks",
        alice.token,
        json={"url": HOOK_URL, "events": ["task.created", "task.updated"], "description": "CI"},
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == READ_FIELDS | {"secret"}
    assert body["url"] == HOOK_URL
    assert body["events"] == ["task.created", "task.updated"]
    assert body["description"] == "CI"
    assert body["active"] is True
    assert body["disabled_reason"] is None
    assert body["failing_since"] is None
    assert TIMESTAMP.match(body["created_at"])
    assert SECRET.match(body["secret"])
    assert response.headers["Location"] == f"/api/webhooks/{body['id']}"
    row = webhook_row(app, body["id"])
    assert row is not None
    assert (row.user_id, row.secret, row.previous_secret) == (alice.id, body["secret"], None)


def test_create_webhook_starts_at_the_owners_current_feed_position(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    for title in ("one", "two"):
        api.post("/api/tasks", alice.token, json={"title": title})
    with app.app_context():
        position = feed_position(alice.id)

    webhook = add_webhook(api, alice)

    assert position == 2
    assert webhook_row(app, webhook["id"]).last_seq == 2  # type: ignore[union-attr]


def test_create_webhook_without_description_or_for_every_event(
    api: ApiClient, alice: Account
) -> None:
    body = add_webhook(api, alice, url="http://hooks.example.com:8080/x?y=1", events=["*"])

    assert body["events"] == ["*"]
    assert body["description"] == ""
    assert body["url"] == "http://hooks.example.com:8080/x?y=1"


BAD_URLS = [
    ("ftp://example.com/hook", "Must be an absolute http:// or https:// URL."),
    ("/relative/hook", "Must be an absolute http:// or https:// URL."),
    ("example.com/hook", "Must be an absolute http:// or https:// URL."),
    ("https:example.com", "Must be an absolute http:// or https:// URL."),
    ("https://", "Must name a host, like https://example.com/hook."),
    ("https:///path", "Must name a host, like https://example.com/hook."),
    ("https://bob:pw@example.com/", "Must not contain a user name or password (user:password@)."),
    ("https://bob@example.com/", "Must not contain a user name or password (user:password@)."),
    ("https://example.com/hook#part", "Must not contain a fragment (#…)."),
    ("https://example.com/hook#", "Must not contain a fragment (#…)."),
    ("https://example.com/a b", "Must not contain spaces or control characters."),
    ("https://example.com/\tb", "Must not contain spaces or control characters."),
    ("https://example.com:99999/", "The port must be a number from 1 to 65535."),
    ("https://example.com:0/", "The port must be a number from 1 to 65535."),
    ("https://example.com:http/", "The port must be a number from 1 to 65535."),
    ("http://[::1", "Must be a valid URL (check the brackets around the host)."),
    ("http://a]b/", "Must be a valid URL (check the brackets around the host)."),
    ("https://exa_mple..com/", "'exa_mple..com' is not a valid host name or IP address."),
    ("https://<b>/", "'<b>' is not a valid host name or IP address."),
    ("http://127.0.0.1/", "Refused: 127.0.0.1 is a loopback address. "
     "Webhooks are sent to public addresses only."),
    ("http://[::1]:8000/", "Refused: ::1 is a loopback address. "
     "Webhooks are sent to public addresses only."),
    ("http://169.254.169.254/latest/meta-data/", "Refused: 169.254.169.254 is a link-local "
     "address. Webhooks are sent to public addresses only."),
    ("http://10.1.2.3/", "Refused: 10.1.2.3 is a private address. "
     "Webhooks are sent to public addresses only."),
    ("http://[::ffff:192.168.0.1]/", "Refused: 192.168.0.1 is a private address. "
     "Webhooks are sent to public addresses only."),
    ("http://2130706433/", "Refused: 127.0.0.1 is a loopback address. "
     "Webhooks are sent to public addresses only."),
    ("http://0x7f.1/", "Refused: 127.0.0.1 is a loopback address. "
     "Webhooks are sent to public addresses only."),
    ("http://0.0.0.0/", "Refused: 0.0.0.0 is a private address. "
     "Webhooks are sent to public addresses only."),
]  # fmt: skip


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_create_webhook_with_a_bad_url_is_400_saying_why(
    app: Flask, api: ApiClient, alice: Account, url: str, message: str
) -> None:
    response = api.post("/api/webhooks", alice.token, json={"url": url, "events": ["*"]})

    body = assert_problem(response, 400)
    assert body["errors"] == {"url": [message]}
    assert count_rows(app, Webhook) == 0


def test_create_webhook_with_a_url_too_long_or_empty_is_400(api: ApiClient, alice: Account) -> None:
    long = "https://example.com/" + "a" * 2029
    fits = "https://example.com/" + "a" * 2028

    too_long = api.post("/api/webhooks", alice.token, json={"url": long, "events": ["*"]})
    empty = api.post("/api/webhooks", alice.token, json={"url": "", "events": ["*"]})
    ok = api.post("/api/webhooks", alice.token, json={"url": fits, "events": ["*"]})

    assert assert_problem(too_long, 400)["errors"] == {
        "url": ["Length must be between 1 and 2048."]
    }
    assert "url" in assert_problem(empty, 400)["errors"]
    assert ok.status_code == 201
    assert len(ok.get_json()["url"]) == 2048


def test_create_webhook_to_an_allowed_private_network_is_accepted(
    make_app: Callable[..., Flask],
) -> None:
    lan = make_app(WEBHOOK_ALLOWED_NETWORKS=["10.1.0.0/16"])
    api = ApiClient(lan.test_client())
    alice = api.account("alice")

    def create(url: str) -> Any:
        return api.post("/api/webhooks", alice.token, json={"url": url, "events": ["*"]})

    allowed = create("http://10.1.2.3:9000/")
    outside = create("http://10.2.0.1/")

    assert allowed.status_code == 201
    assert assert_problem(outside, 400)["errors"]["url"] == [
        "Refused: 10.2.0.1 is a private address. Webhooks are sent to public addresses only."
    ]


def test_create_webhook_with_a_host_name_is_accepted_as_names_are_checked_when_sent(
    api: ApiClient, alice: Account
) -> None:
    for url in ("http://localhost:8000/", "https://bücher.example/hook", "https://a.b-c.d./"):
        response = api.post("/api/webhooks", alice.token, json={"url": url, "events": ["*"]})
        assert response.status_code == 201, (url, response.get_json())


@pytest.mark.parametrize(
    ("events", "errors"),
    [
        ([], {"events": ["Choose at least one event type."]}),
        (["task.created", "task.created"], {"events": ["List each event type once."]}),
        (
            ["*", "task.created"],
            {"events": ['Send ["*"] alone for every event, or list event types.']},
        ),
        (["task.exploded"], {"events.0": [f"Must be one of: {', '.join([*EVENT_TYPES, '*'])}."]}),
        (["ping"], {"events.0": [f"Must be one of: {', '.join([*EVENT_TYPES, '*'])}."]}),
        ("task.created", {"events": ["Not a valid list."]}),
        ([7], {"events.0": ["Not a valid string."]}),
        (None, {"events": ["Field may not be null."]}),
    ],
)
def test_create_webhook_with_bad_events_is_400(
    app: Flask, api: ApiClient, alice: Account, events: Any, errors: dict[str, list[str]]
) -> None:
    response = api.post("/api/webhooks", alice.token, json={"url": HOOK_URL, "events": events})

    assert assert_problem(response, 400)["errors"] == errors
    assert count_rows(app, Webhook) == 0


def test_create_webhook_missing_fields_or_with_unknown_ones_is_400(
    api: ApiClient, alice: Account
) -> None:
    missing = api.post("/api/webhooks", alice.token, json={})
    unknown = api.post(
        "/api/webhooks", alice.token, json={"url": HOOK_URL, "events": ["*"], "secret": "x"}
    )
    description = api.post(
        "/api/webhooks",
        alice.token,
        json={"url": HOOK_URL, "events": ["*"], "description": "x" * 501},
    )
    hidden = api.post(
        "/api/webhooks",
        alice.token,
        json={"url": HOOK_URL, "events": ["*"], "description": "a\u202eb"},
    )

    assert assert_problem(missing, 400)["errors"] == {
        "url": ["Missing data for required field."],
        "events": ["Missing data for required field."],
    }
    assert assert_problem(unknown, 400)["errors"] == {"secret": ["Unknown field."]}
    assert assert_problem(description, 400)["errors"] == {
        "description": ["Longer than maximum length 500."]
    }
    assert assert_problem(hidden, 400)["errors"] == {
        "description": ["Must not contain control characters."]
    }


def test_create_webhook_past_the_limit_is_409_with_the_limit(
    make_app: Callable[..., Flask],
) -> None:
    capped = make_app(MAX_WEBHOOKS_PER_USER=2)
    api = ApiClient(capped.test_client())
    alice, bob = api.account("alice"), api.account("bob")
    add_webhook(api, alice)
    add_webhook(api, alice)

    refused = api.post("/api/webhooks", alice.token, json={"url": HOOK_URL, "events": ["*"]})
    bobs = api.post("/api/webhooks", bob.token, json={"url": HOOK_URL, "events": ["*"]})

    body = assert_problem(refused, 409)
    assert body["type"].endswith("/webhook-limit-reached")
    assert body["limit"] == 2
    assert "At most 2 webhooks per user" in body["detail"]
    assert bobs.status_code == 201
    assert count_rows(capped, Webhook) == 3


# --- read -------------------------------------------------------------------------------


def test_list_and_get_webhook_never_show_the_secret(api: ApiClient, alice: Account) -> None:
    created = add_webhook(api, alice, description="one")
    add_webhook(api, alice, description="two")

    listed = api.get("/api/webhooks", alice.token)
    one = api.get(f"/api/webhooks/{created['id']}", alice.token)

    assert listed.status_code == 200
    assert [hook["description"] for hook in listed.get_json()["webhooks"]] == ["one", "two"]
    assert all(set(hook) == READ_FIELDS for hook in listed.get_json()["webhooks"])
    assert one.status_code == 200
    assert one.get_json() == {key: created[key] for key in READ_FIELDS}
    assert created["secret"] not in listed.get_data(as_text=True) + one.get_data(as_text=True)


def test_list_webhooks_shows_only_your_own(api: ApiClient, alice: Account, bob: Account) -> None:
    add_webhook(api, alice)

    assert api.get("/api/webhooks", bob.token).get_json() == {"webhooks": []}


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_users_or_a_missing_webhook_is_404(
    api: ApiClient, alice: Account, bob: Account, method: str
) -> None:
    hook = add_webhook(api, alice)
    send = getattr(api, method)
    kwargs = {"json": {"active": False}} if method == "patch" else {}

    for path in (f"/api/webhooks/{hook['id']}", "/api/webhooks/999", f"/api/webhooks/{HUGE_ID}"):
        response = send(path, bob.token, **kwargs)
        if path.endswith(HUGE_ID):
            assert response.status_code == 404
            continue
        body = assert_problem(response, 404)
        assert body["type"].endswith("/webhook-not-found")
    assert api.get(f"/api/webhooks/{hook['id']}", alice.token).get_json()["active"] is True


@pytest.mark.parametrize(
    "path",
    ["/test", "/rotate-secret", "/deliveries/1/redeliver"],
)
def test_writes_on_another_users_webhook_are_404_and_change_nothing(
    app: Flask, api: ApiClient, alice: Account, bob: Account, path: str
) -> None:
    hook = add_webhook(api, alice)
    insert_delivery(app, hook["id"], n=1)

    response = api.post(f"/api/webhooks/{hook['id']}{path}", bob.token)

    assert assert_problem(response, 404)["type"].endswith("/webhook-not-found")
    row = webhook_row(app, hook["id"])
    assert (row.secret, row.previous_secret) == (hook["secret"], None)  # type: ignore[union-attr]
    assert count_rows(app, WebhookDelivery) == 1


def test_every_webhook_route_takes_api_tokens_with_the_webhooks_scope(app: Flask) -> None:
    views = {
        rule.endpoint: app.view_functions[rule.endpoint]
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/webhooks")
    }

    assert len(views) == 10
    assert {name: view.required_scope for name, view in views.items()} == dict.fromkeys(
        views, "webhooks:manage"
    )


# --- update -----------------------------------------------------------------------------


def test_update_webhook_changes_only_what_is_sent(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice, description="old")

    url = api.patch(f"/api/webhooks/{hook['id']}", alice.token, json={"url": "https://x.example/"})
    events = api.patch(
        f"/api/webhooks/{hook['id']}", alice.token, json={"events": ["category.created"]}
    )
    paused = api.patch(f"/api/webhooks/{hook['id']}", alice.token, json={"active": False})

    assert url.status_code == events.status_code == paused.status_code == 200
    body = paused.get_json()
    assert (body["url"], body["events"], body["description"], body["active"]) == (
        "https://x.example/",
        ["category.created"],
        "old",
        False,
    )
    assert body["disabled_reason"] is None
    assert webhook_row(app, hook["id"]).secret == hook["secret"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({}, {"body": ["Send url, events, description or active to change."]}),
        ({"active": "yes"}, {"active": ["Must be true or false."]}),
        ({"active": 1}, {"active": ["Must be true or false."]}),
        ({"active": None}, {"active": ["Field may not be null."]}),
        ({"url": "http://127.0.0.1/"}, {"url": ["Refused: 127.0.0.1 is a loopback address. "
                                               "Webhooks are sent to public addresses only."]}),
        ({"events": []}, {"events": ["Choose at least one event type."]}),
        ({"description": "x" * 501}, {"description": ["Longer than maximum length 500."]}),
        ({"secret": "whsec_x"}, {"secret": ["Unknown field."]}),
        ({"disabled_reason": None}, {"disabled_reason": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_update_webhook_with_bad_fields_is_400_and_changes_nothing(
    app: Flask, api: ApiClient, alice: Account, changes: dict[str, Any], errors: Any
) -> None:
    hook = add_webhook(api, alice)

    response = api.patch(f"/api/webhooks/{hook['id']}", alice.token, json=changes)

    assert assert_problem(response, 400)["errors"] == errors
    assert api.get(f"/api/webhooks/{hook['id']}", alice.token).get_json() == {
        key: hook[key] for key in READ_FIELDS
    }


def test_resuming_a_disabled_webhook_clears_its_reason_and_failure_clock(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    set_webhook(
        app,
        hook["id"],
        active=False,
        disabled_reason="The receiver answered 410 Gone",
        failing_since=utcnow() - timedelta(days=1),
        last_seq=7,
    )
    shown = api.get(f"/api/webhooks/{hook['id']}", alice.token).get_json()

    response = api.patch(f"/api/webhooks/{hook['id']}", alice.token, json={"active": True})

    assert shown["disabled_reason"] == "The receiver answered 410 Gone"
    assert TIMESTAMP.match(shown["failing_since"])
    assert response.status_code == 200
    body = response.get_json()
    assert (body["active"], body["disabled_reason"], body["failing_since"]) == (True, None, None)
    row = webhook_row(app, hook["id"])
    assert (row.active, row.disabled_reason, row.failing_since) == (True, None, None)  # type: ignore[union-attr]
    assert row.last_seq == 7  # type: ignore[union-attr]  # it goes on from where it stopped


def test_active_true_on_an_active_failing_webhook_keeps_its_failure_clock(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    set_webhook(app, hook["id"], failing_since=utcnow())

    api.patch(f"/api/webhooks/{hook['id']}", alice.token, json={"active": True})

    assert webhook_row(app, hook["id"]).failing_since is not None  # type: ignore[union-attr]


# --- delete -----------------------------------------------------------------------------


def test_delete_webhook_removes_it_with_its_deliveries_and_attempts(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    other = add_webhook(api, alice)
    insert_delivery(app, hook["id"], n=1, attempts=[{}, {}])
    insert_delivery(app, other["id"], n=2, attempts=[{}])

    response = api.delete(f"/api/webhooks/{hook['id']}", alice.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert webhook_row(app, hook["id"]) is None
    assert count_rows(app, WebhookDelivery) == 1
    assert count_rows(app, WebhookAttempt) == 1
    assert api.get(f"/api/webhooks/{hook['id']}", alice.token).status_code == 404


# --- test ping --------------------------------------------------------------------------


def test_ping_queues_a_pending_ping_delivery_with_the_standard_envelope(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    woken: list[Any] = []
    signals.work_queued.connect(lambda sender, **kw: woken.append(sender), app, weak=False)

    response = api.post(f"/api/webhooks/{hook['id']}/test", alice.token)

    assert response.status_code == 202
    delivery = response.get_json()
    assert response.headers["Location"] == (
        f"/api/webhooks/{hook['id']}/deliveries/{delivery['id']}"
    )
    assert (delivery["event_type"], delivery["status"], delivery["attempts"]) == (
        "ping",
        PENDING,
        0,
    )
    assert re.fullmatch(r"msg_[0-9a-f]{32}", delivery["message_id"])
    assert delivery["attempts_log"] == []
    assert set(delivery["payload"]) == {"type", "timestamp", "data"}
    assert delivery["payload"]["type"] == "ping"
    assert delivery["payload"]["data"] == {"webhook_id": hook["id"]}
    assert TIMESTAMP.match(delivery["payload"]["timestamp"])
    with app.app_context():
        row = db.session.get(WebhookDelivery, delivery["id"])
        assert row is not None
        assert (row.webhook_id, row.status, row.seq, row.task_id) == (
            hook["id"],
            PENDING,
            None,
            None,
        )
        assert row.next_attempt_at is not None
        assert json.loads(row.payload) == delivery["payload"]
    assert woken == [app]


def test_ping_while_a_ping_is_pending_sends_that_one_again_rather_than_another(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    first = api.post(f"/api/webhooks/{hook['id']}/test", alice.token).get_json()

    again = api.post(f"/api/webhooks/{hook['id']}/test", alice.token)

    assert again.status_code == 202
    assert (again.get_json()["id"], again.get_json()["message_id"]) == (
        first["id"],
        first["message_id"],
    )
    assert count_rows(app, WebhookDelivery) == 1


def test_ping_after_the_last_one_ended_queues_a_new_one(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    insert_delivery(app, hook["id"], n=1, status=SUCCEEDED, event_type="ping")

    response = api.post(f"/api/webhooks/{hook['id']}/test", alice.token)

    assert response.status_code == 202
    assert count_rows(app, WebhookDelivery) == 2


# --- secret rotation --------------------------------------------------------------------


def test_rotate_secret_answers_a_new_one_and_keeps_the_old_for_24_hours(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    before = utcnow()

    response = api.post(f"/api/webhooks/{hook['id']}/rotate-secret", alice.token)

    after = utcnow()
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"secret", "previous_secret_expires_at"}
    assert SECRET.match(body["secret"])
    assert body["secret"] != hook["secret"]
    row = webhook_row(app, hook["id"])
    assert row is not None
    assert (row.secret, row.previous_secret) == (body["secret"], hook["secret"])
    expires = row.previous_secret_expires_at
    assert expires is not None
    assert before + timedelta(hours=24) - timedelta(seconds=1) <= expires
    assert expires <= after + timedelta(hours=24)
    assert body["previous_secret_expires_at"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["secret"] not in api.get(f"/api/webhooks/{hook['id']}", alice.token).get_data(
        as_text=True
    )


def test_rotating_twice_keeps_only_the_secret_before_the_current_one(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    second = api.post(f"/api/webhooks/{hook['id']}/rotate-secret", alice.token).get_json()

    third = api.post(f"/api/webhooks/{hook['id']}/rotate-secret", alice.token).get_json()

    row = webhook_row(app, hook["id"])
    assert (row.secret, row.previous_secret) == (third["secret"], second["secret"])  # type: ignore[union-attr]


# --- deliveries -------------------------------------------------------------------------


def test_list_deliveries_newest_first_with_every_attempt(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    old = insert_delivery(
        app,
        hook["id"],
        n=1,
        status=SUCCEEDED,
        attempts=[
            {"outcome": "retrying", "response_status": 503, "response_body": "busy"},
            {"outcome": "succeeded", "response_status": 200, "response_body": "ok"},
        ],
    )
    new = insert_delivery(
        app,
        hook["id"],
        n=2,
        status=FAILED,
        attempts=[{"outcome": "failed", "response_status": None, "error": "timed out",
                   "response_headers": None, "response_body": None, "duration_ms": 10000}],
    )  # fmt: skip

    response = api.get(f"/api/webhooks/{hook['id']}/deliveries", alice.token)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (2, 1, 10, 1)
    assert [d["id"] for d in body["deliveries"]] == [new["id"], old["id"]]
    latest, earliest = body["deliveries"]
    assert latest["message_id"] == new["message_id"]
    assert latest["payload"] == new["payload"]
    assert latest["status"] == FAILED
    assert latest["attempts_log"] == [
        {
            "number": 1,
            "started_at": "2026-11-30T12:02:01Z",
            "outcome": "failed",
            "duration_ms": 10000,
            "request_headers": {"webhook-id": f"msg_{new['id']}"},
            "response_status": None,
            "response_headers": None,
            "response_body": None,
            "error": "timed out",
        }
    ]
    attempts = earliest["attempts_log"]
    assert [(a["number"], a["response_status"], a["response_body"]) for a in attempts] == [
        (1, 503, "busy"),
        (2, 200, "ok"),
    ]
    assert earliest["created_at"] == "2026-11-30T12:01:00Z"
    assert earliest["last_attempt_at"] == "2026-11-30T12:01:02Z"
    assert earliest["next_attempt_at"] is None


def test_list_deliveries_by_status_and_page(app: Flask, api: ApiClient, alice: Account) -> None:
    hook = add_webhook(api, alice)
    statuses = [FAILED, SUCCEEDED, FAILED, PENDING, FAILED]
    ids = [insert_delivery(app, hook["id"], n=n, status=s)["id"] for n, s in enumerate(statuses)]
    path = f"/api/webhooks/{hook['id']}/deliveries"

    failed = api.get(f"{path}?status=failed&per_page=2", alice.token).get_json()
    second = api.get(f"{path}?status=failed&per_page=2&page=2", alice.token).get_json()
    pending = api.get(f"{path}?status=pending", alice.token).get_json()
    beyond = api.get(f"{path}?page=9", alice.token).get_json()

    assert [d["id"] for d in failed["deliveries"]] == [ids[4], ids[2]]
    assert (failed["total"], failed["pages"]) == (3, 2)
    assert [d["id"] for d in second["deliveries"]] == [ids[0]]
    assert [d["id"] for d in pending["deliveries"]] == [ids[3]]
    assert (beyond["deliveries"], beyond["total"]) == ([], 5)


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("status=sent", {"status": ["Must be one of: pending, succeeded, failed."]}),
        ("status=failed&status=pending", {"status": ["Give this parameter once."]}),
        (
            "page=0",
            {"page": ["Must be greater than or equal to 1 and less than or equal to 1000000."]},
        ),
        (
            "per_page=101",
            {"per_page": ["Must be greater than or equal to 1 and less than or equal to 100."]},
        ),
        ("after=3", {"after": ["Unknown field."]}),
    ],
)
def test_list_deliveries_with_a_bad_query_is_400(
    api: ApiClient, alice: Account, query: str, errors: dict[str, list[str]]
) -> None:
    hook = add_webhook(api, alice)

    response = api.get(f"/api/webhooks/{hook['id']}/deliveries?{query}", alice.token)

    assert assert_problem(response, 400)["errors"] == errors


def test_deliveries_of_another_users_webhook_are_404(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    hook = add_webhook(api, alice)
    delivery = insert_delivery(app, hook["id"], n=1)
    base = f"/api/webhooks/{hook['id']}/deliveries"

    listed = api.get(base, bob.token)
    one = api.get(f"{base}/{delivery['id']}", bob.token)

    assert assert_problem(listed, 404)["type"].endswith("/webhook-not-found")
    assert assert_problem(one, 404)["type"].endswith("/webhook-not-found")


def test_get_delivery_of_another_webhook_or_missing_is_404(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    other = add_webhook(api, alice)
    delivery = insert_delivery(app, other["id"], n=1)
    base = f"/api/webhooks/{hook['id']}/deliveries"

    crossed = api.get(f"{base}/{delivery['id']}", alice.token)
    missing = api.get(f"{base}/999", alice.token)
    redeliver = api.post(f"{base}/{delivery['id']}/redeliver", alice.token)

    for response in (crossed, missing, redeliver):
        assert assert_problem(response, 404)["type"].endswith("/delivery-not-found")
    assert api.get(f"{base}/{HUGE_ID}", alice.token).status_code == 404


def test_get_delivery_answers_it_with_its_attempts(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    delivery = insert_delivery(app, hook["id"], n=3, attempts=[{"response_status": 502}])

    response = api.get(f"/api/webhooks/{hook['id']}/deliveries/{delivery['id']}", alice.token)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["message_id"], body["payload"]) == (
        delivery["id"],
        delivery["message_id"],
        delivery["payload"],
    )
    assert [a["response_status"] for a in body["attempts_log"]] == [502]


def test_redeliver_requeues_it_with_the_same_message_id_and_keeps_its_attempts(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    hook = add_webhook(api, alice)
    delivery = insert_delivery(app, hook["id"], n=1, status=FAILED, attempts=[{}, {}])
    before = utcnow()

    response = api.post(
        f"/api/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver", alice.token
    )

    assert response.status_code == 202
    body = response.get_json()
    assert (body["id"], body["message_id"], body["status"]) == (
        delivery["id"],
        delivery["message_id"],
        PENDING,
    )
    assert len(body["attempts_log"]) == 2
    with app.app_context():
        row = db.session.get(WebhookDelivery, delivery["id"])
        assert row is not None
        assert (row.status, row.message_id, row.attempts) == (PENDING, delivery["message_id"], 2)
        assert row.next_attempt_at is not None
        assert row.next_attempt_at >= before - timedelta(seconds=1)
        assert json.loads(row.payload) == delivery["payload"]
    assert count_rows(app, WebhookDelivery) == 1


# --- the contract -----------------------------------------------------------------------


def test_docs_list_every_webhook_route_and_no_other(app: Flask) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("\n## Webhooks\n", 1)[1].split("\n## ", 1)[0]
    documented = {
        (method, re.sub(r"\?.*", "", path))
        for methods, path in re.findall(r"\| `((?:[A-Z]+,? ?)+) (/api/webhooks[^` ]*)", section)
        for method in methods.replace(",", " ").split()
    }
    served = {
        (
            method,
            re.sub(r"<int:webhook_id>", "<id>", rule.rule).replace("<int:delivery_id>", "<did>"),
        )
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/webhooks")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }

    assert documented == served


ACCEPTED_URLS = [
    HOOK_URL,
    "HTTP://hooks.example.com:8080/x?y=1&z=@",
    "https://hooks.example.com?only=query",
    "https://[2606:4700::1111]/hook",
    "https://bücher.example/hook",
]


def test_the_document_states_the_url_and_event_rules(spec: dict[str, Any]) -> None:
    create = spec["components"]["schemas"]["WebhookCreate"]
    update = spec["components"]["schemas"]["WebhookUpdate"]
    pattern = re.compile(create["properties"]["url"]["pattern"])
    shapes = [url for url, message in BAD_URLS if not message.startswith(("Refused", "The port"))]

    assert [url for url in ACCEPTED_URLS if not pattern.search(url)] == []
    assert [url for url in shapes if pattern.search(url)] == [
        "http://[::1",  # hosts, bracketed or not, are checked by the server alone
        "http://a]b/",
        "https://exa_mple..com/",
        "https://<b>/",
    ]
    assert create["properties"]["events"]["uniqueItems"] is True
    for schema in (create, update):
        assert schema["if"]["properties"]["events"]["contains"] == {"const": "*"}
        assert schema["then"]["properties"]["events"]["maxItems"] == 1
    assert update["minProperties"] == 1


@pytest.mark.parametrize("url", ACCEPTED_URLS)
def test_create_webhook_with_any_url_the_document_allows_shape_of_is_accepted(
    api: ApiClient, alice: Account, url: str
) -> None:
    response = api.post("/api/webhooks", alice.token, json={"url": url, "events": ["*"]})

    assert response.status_code == 201, response.get_json()


# Found by schemathesis (tests/test_fuzz.py).
def test_the_limit_reached_answer_is_the_documented_409(
    make_app: Callable[..., Flask],
) -> None:
    capped = make_app(MAX_WEBHOOKS_PER_USER=1)
    client = capped.test_client()
    api = ApiClient(client)
    alice = api.account("alice")
    add_webhook(api, alice)
    spec = client.get("/api/openapi.json").get_json()

    refused = api.post("/api/webhooks", alice.token, json={"url": HOOK_URL, "events": ["*"]})

    documented = spec["paths"]["/api/webhooks"]["post"]["responses"]["409"]
    schema = documented["content"]["application/problem+json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    validator = jsonschema_rs.validator_for(spec["components"]["schemas"][name])
    assert refused.status_code == 409
    assert validator.is_valid(refused.get_json()), refused.get_json()
