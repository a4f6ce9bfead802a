"""The webhooks pages: list, create (secret shown once), edit and resume, test ping,
rotate, the delivery log with its redeliver buttons, delete after a confirmation, and
the notice every page shows the owner of a disabled webhook."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from doable.db import utcnow
from doable.security import HTML_CSP
from doable.webhooks.models import (
    EVENT_TYPES,
    FAILED,
    PENDING,
    SUCCEEDED,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser, csrf_token, field_errors, input_value
from tests.support.webhooks import (
    HOOK_URL,
    add_webhook,
    count_rows,
    insert_delivery,
    set_webhook,
    webhook_row,
    webhook_rows,
)
from tests.web.test_pages import INLINE

SECRET = re.compile(r'id="secret" type="text" readonly value="(whsec_[^"]+)"')
NOTICE = re.compile(r'<p class="notice[^>]*data-notice="webhook-disabled">(.*?)</p>', re.S)
GONE = "the receiver answered 410 Gone"


def _text(fragment: str) -> str:
    return html_module.unescape(re.sub(r"<[^>]+>", "", fragment))


def _disable(app: Flask, webhook_id: int) -> None:
    set_webhook(app, webhook_id, active=False, disabled_reason=GONE, failing_since=utcnow())


# --- list -------------------------------------------------------------------------------


def test_webhooks_page_lists_yours_with_state_events_and_recent_deliveries(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    active = add_webhook(api, alice, events=["task.created", "task.deleted"], description="CI")
    paused = add_webhook(api, alice, url="https://paused.example/")
    add_webhook(api, bob, url="https://bobs.example/")
    set_webhook(app, paused["id"], active=False)
    now = utcnow()
    for n, status in enumerate([SUCCEEDED, SUCCEEDED, FAILED, PENDING]):
        insert_delivery(app, active["id"], n=n, status=status, created_at=now)
    insert_delivery(app, active["id"], n=9, created_at=now - timedelta(hours=25))

    page = browse(alice).get("/webhooks")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = re.findall(r'<li class="webhook-row".*?</li>', html, re.S)
    assert len(rows) == 2
    first, second = (" ".join(_text(row).split()) for row in rows)
    assert first == (
        f"Active {HOOK_URL} CI task.created, task.deleted · last 24 h: 2 succeeded, 1 failed, "
        "1 pending"
    )
    assert second == "Paused https://paused.example/ Every event · no deliveries in the last 24 h"
    assert f'href="/webhooks/{active["id"]}"' in html
    assert "bobs.example" not in html
    assert 'href="/webhooks" aria-current="page">Webhooks</a>' in html


def test_webhooks_page_without_any_invites_you_to_create_one(
    browse: Callable[..., Browser], alice: Account
) -> None:
    html = browse(alice).get("/webhooks").get_data(as_text=True)

    assert "No webhooks yet." in html
    assert 'href="/webhooks/new"' in html


def test_webhooks_pages_need_a_login(browse: Callable[..., Browser]) -> None:
    response = browse().get("/webhooks")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/webhooks")


# --- create -----------------------------------------------------------------------------


def test_new_webhook_page_offers_every_event_type_as_a_labelled_checkbox(
    browse: Callable[..., Browser], alice: Account
) -> None:
    html = browse(alice).get("/webhooks/new").get_data(as_text=True)

    values = re.findall(r'<input[^>]*type="checkbox"[^>]*value="([^"]+)"', html)
    assert values == ["*", *EVENT_TYPES]
    for n in range(len(values)):
        assert f'for="events-{n}"' in html
    assert csrf_token(html)


def test_create_webhook_shows_its_secret_once(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    created = browser.post(
        "/webhooks/new",
        {"url": f"  {HOOK_URL} ", "events": ["task.created", "task.updated"], "description": "CI"},
    )

    assert created.status_code == 200
    secret = SECRET.search(created.get_data(as_text=True))
    assert secret is not None
    rows = webhook_rows(app)
    assert len(rows) == 1
    row = rows[0]
    assert (row.user_id, row.url, row.events, row.description, row.active) == (
        alice.id,
        HOOK_URL,
        ["task.created", "task.updated"],
        "CI",
        True,
    )
    assert row.secret == secret.group(1)
    for path in ("/webhooks", f"/webhooks/{row.id}"):
        assert secret.group(1) not in browser.get(path).get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "field", "errors"),
    [
        (
            {"url": "http://169.254.169.254/", "events": ["*"]},
            "url",
            [
                "Refused: 169.254.169.254 is a link-local address. "
                "Webhooks are sent to public addresses only."
            ],
        ),
        (
            {"url": "ftp://x.example/", "events": ["*"]},
            "url",
            ["Must be an absolute http:// or https:// URL."],
        ),
        ({"url": HOOK_URL}, "events", ["Choose at least one event type."]),
        (
            {"url": HOOK_URL, "events": ["*", "task.created"]},
            "events",
            ['Send ["*"] alone for every event, or list event types.'],
        ),
    ],
)
def test_create_webhook_with_bad_fields_shows_why_by_the_field_and_keeps_them(
    app: Flask,
    browse: Callable[..., Browser],
    alice: Account,
    form: dict[str, Any],
    field: str,
    errors: list[str],
) -> None:
    response = browse(alice).post("/webhooks/new", form)

    assert response.status_code == 400
    assert field_errors(response, field) == errors
    assert input_value(response, "url") == html_module.escape(form["url"])
    assert webhook_rows(app) == []


def test_create_webhook_past_the_limit_says_so(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_WEBHOOKS_PER_USER=1)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    add_webhook(api, alice)
    browser = Browser(app.test_client())
    browser.login(alice)

    response = browser.post("/webhooks/new", {"url": "https://two.example/", "events": ["*"]})

    assert response.status_code == 409
    assert "At most 1 webhooks per user" in html_module.unescape(response.get_data(as_text=True))
    assert count_rows(app, Webhook) == 1


def test_create_webhook_without_a_csrf_token_is_refused(
    app: Flask, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    browser = browse(alice)
    form = {"url": HOOK_URL, "events": ["*"]}

    forged = browser.client.post("/webhooks/new", data=form)
    foreign = browser.client.post("/webhooks/new", data={**form, "csrf_token": browse(bob).token()})

    assert forged.status_code == foreign.status_code == 400
    assert "This form has expired" in forged.get_data(as_text=True)
    assert webhook_rows(app) == []


# --- one webhook ------------------------------------------------------------------------


def test_webhook_page_shows_its_edit_form_and_recent_deliveries(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice, events=["task.created"], description="CI")
    ok = insert_delivery(
        app, hook["id"], n=1, status=SUCCEEDED, attempts=[{"response_status": 204}]
    )
    three = [{}, {}, {"response_status": 404}]
    failed = insert_delivery(app, hook["id"], n=2, status=FAILED, attempts=three)

    html = browse(alice).get(f"/webhooks/{hook['id']}").get_data(as_text=True)

    assert input_value_html(html, "url") == HOOK_URL
    assert input_value_html(html, "description") == "CI"
    assert re.search(r'<input[^>]*checked[^>]*value="task.created"', html)
    assert not re.search(r'<input[^>]*checked[^>]*value="task.updated"', html)
    assert re.search(r'<input[^>]*checked[^>]*id="active"|<input[^>]*id="active"[^>]*checked', html)
    rows = re.findall(r'<li class="delivery-row" data-delivery-id="(\d+)">(.*?)</li>', html, re.S)
    assert [int(delivery_id) for delivery_id, _ in rows] == [failed["id"], ok["id"]]
    newest = " ".join(_text(rows[0][1]).split())
    assert (
        newest == "Failed task.created 30 Nov 2026, 12:02 UTC 3 attempts last answer 404 Redeliver"
    )
    assert f'action="/webhooks/{hook["id"]}/deliveries/{failed["id"]}/redeliver"' in html
    assert f'action="/webhooks/{hook["id"]}/test"' in html
    assert f'action="/webhooks/{hook["id"]}/rotate-secret"' in html
    assert f'href="/webhooks/{hook["id"]}/delete"' in html


def input_value_html(html: str, field_id: str) -> str | None:
    tag = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0)) if tag else None
    return html_module.unescape(value.group(1)) if value else None


def test_webhook_page_filters_deliveries_by_status_and_pages_them(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)
    ids = [
        insert_delivery(app, hook["id"], n=n, status=FAILED if n % 2 else SUCCEEDED)["id"]
        for n in range(45)
    ]
    browser = browse(alice)

    failed = browser.get(f"/webhooks/{hook['id']}?status=failed&page=2").get_data(as_text=True)
    bad = browser.get(f"/webhooks/{hook['id']}?status=lost")

    shown = [int(i) for i in re.findall(r'data-delivery-id="(\d+)"', failed)]
    assert shown == [ids[n] for n in range(43, 0, -2)][20:]
    assert "22 deliveries · page 2 of 2" in failed
    assert bad.status_code == 400
    assert bad.mimetype == "text/html"


def test_another_users_webhook_pages_are_404(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    hook = add_webhook(api, alice)
    delivery = insert_delivery(app, hook["id"], n=1)
    browser = browse(bob)
    base = f"/webhooks/{hook['id']}"

    pages = (base, f"{base}/delete", f"{base}/deliveries/{delivery['id']}")
    gets = [browser.get(path) for path in pages]
    posts = [
        browser.post(f"{base}{path}", data)
        for path, data in [
            ("", {"url": "https://evil.example/", "events": ["*"], "active": "y"}),
            ("/test", {}),
            ("/rotate-secret", {}),
            (f"/deliveries/{delivery['id']}/redeliver", {}),
            ("/delete", {}),
        ]
    ]

    assert [r.status_code for r in gets + posts] == [404] * 8
    row = webhook_row(app, hook["id"])
    assert (row.url, row.secret) == (HOOK_URL, hook["secret"])  # type: ignore[union-attr]
    assert count_rows(app, WebhookDelivery) == 1


# --- edit -------------------------------------------------------------------------------


def test_edit_webhook_saves_url_events_description_and_pause(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)

    response = browse(alice).post(
        f"/webhooks/{hook['id']}",
        {
            "url": "https://new.example/h",
            "events": ["task.shared", "task.unshared"],
            "description": "x",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/webhooks/{hook['id']}"
    row = webhook_row(app, hook["id"])
    assert (row.url, row.events, row.description, row.active) == (  # type: ignore[union-attr]
        "https://new.example/h",
        ["task.shared", "task.unshared"],
        "x",
        False,  # the box was not ticked
    )


def test_edit_webhook_with_a_bad_url_shows_the_error_and_changes_nothing(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)

    response = browse(alice).post(
        f"/webhooks/{hook['id']}",
        {"url": "https://me:pw@new.example/", "events": ["*"], "active": "y"},
    )

    assert response.status_code == 400
    assert field_errors(response, "url") == [
        "Must not contain a user name or password (user:password@)."
    ]
    assert webhook_row(app, hook["id"]).url == HOOK_URL  # type: ignore[union-attr]


def test_ticking_active_on_a_disabled_webhook_resumes_it_and_the_notice_goes(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)
    _disable(app, hook["id"])
    browser = browse(alice)
    before = browser.get(f"/webhooks/{hook['id']}").get_data(as_text=True)

    response = browser.post(
        f"/webhooks/{hook['id']}", {"url": HOOK_URL, "events": ["*"], "active": "y"}
    )

    assert f"Doable disabled this webhook: {GONE}" in before
    assert response.status_code == 302
    row = webhook_row(app, hook["id"])
    assert (row.active, row.disabled_reason, row.failing_since) == (True, None, None)  # type: ignore[union-attr]
    assert NOTICE.search(browser.get("/tasks").get_data(as_text=True)) is None


# --- buttons ----------------------------------------------------------------------------


def test_send_test_ping_button_queues_a_ping(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)
    browser = browse(alice)

    response = browser.post(f"/webhooks/{hook['id']}/test")

    assert response.status_code == 302
    deliveries = api.get(f"/api/webhooks/{hook['id']}/deliveries", alice.token).get_json()
    assert [(d["event_type"], d["status"]) for d in deliveries["deliveries"]] == [("ping", PENDING)]
    assert deliveries["deliveries"][0]["payload"]["data"] == {"webhook_id": hook["id"]}
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Test ping queued (delivery {deliveries['deliveries'][0]['id']})." in page


def test_redeliver_button_requeues_the_delivery_with_its_message_id(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)
    delivery = insert_delivery(app, hook["id"], n=1, status=FAILED, attempts=[{}])

    response = browse(alice).post(f"/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/webhooks/{hook['id']}"
    again = api.get(f"/api/webhooks/{hook['id']}/deliveries/{delivery['id']}", alice.token)
    body = again.get_json()
    assert (body["status"], body["message_id"], len(body["attempts_log"])) == (
        PENDING,
        delivery["message_id"],
        1,
    )


def test_rotate_secret_button_shows_the_new_secret_once_and_keeps_the_old(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)
    browser = browse(alice)

    response = browser.post(f"/webhooks/{hook['id']}/rotate-secret")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    secret = SECRET.search(html)
    assert secret is not None
    row = webhook_row(app, hook["id"])
    assert (row.secret, row.previous_secret) == (secret.group(1), hook["secret"])  # type: ignore[union-attr]
    assert "The old one also signs until" in html
    assert secret.group(1) not in browser.get(f"/webhooks/{hook['id']}").get_data(as_text=True)


def test_delete_asks_first_then_removes_the_webhook_and_its_deliveries(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)
    insert_delivery(app, hook["id"], n=1, attempts=[{}])
    browser = browse(alice)

    question = browser.get(f"/webhooks/{hook['id']}/delete")
    kept = count_rows(app, Webhook)
    response = browser.post(f"/webhooks/{hook['id']}/delete")

    assert question.status_code == 200
    asked = html_module.unescape(question.get_data(as_text=True))
    assert f"Delete the webhook to {HOOK_URL}?" in asked
    assert "Delete webhook</button>" in asked
    assert kept == 1
    assert response.status_code == 302
    assert response.headers["Location"] == "/webhooks"
    assert count_rows(app, Webhook) == 0
    assert count_rows(app, WebhookDelivery) == count_rows(app, WebhookAttempt) == 0


def test_delivery_page_shows_the_body_and_every_attempt(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)
    delivery = insert_delivery(
        app,
        hook["id"],
        n=1,
        attempts=[
            {"response_status": 500, "response_body": "<b>down</b>"},
            {"outcome": "failed", "response_status": None, "error": "connection refused"},
        ],
    )

    response = browse(alice).get(f"/webhooks/{hook['id']}/deliveries/{delivery['id']}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert delivery["message_id"] in html
    assert "&#34;seq&#34;: 1" in html or "&quot;seq&quot;: 1" in html
    assert "&lt;b&gt;down&lt;/b&gt;" in html  # the receiver's answer, escaped
    assert "connection refused" in html
    assert len(re.findall(r'<li class="attempt"', html)) == 2


# --- the notice -------------------------------------------------------------------------


def test_every_page_tells_the_owner_of_a_disabled_webhook_and_links_to_it(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    hook = add_webhook(api, alice)
    paused = add_webhook(api, bob)
    _disable(app, hook["id"])
    set_webhook(app, paused["id"], active=False)  # paused by its owner: nothing to tell
    alices, bobs = browse(alice), browse(bob)

    for path in ("/tasks", "/categories", "/account", "/webhooks", "/nothing-here"):
        notice = NOTICE.search(alices.get(path).get_data(as_text=True))
        assert notice is not None, path
        assert " ".join(_text(notice.group(1)).split()) == (
            f"Webhook {HOOK_URL} was disabled: {GONE}. Review it."
        )
        assert f'href="/webhooks/{hook["id"]}"' in notice.group(1)
        assert NOTICE.search(bobs.get(path).get_data(as_text=True)) is None, path
    assert NOTICE.search(browse().get("/login").get_data(as_text=True)) is None


def test_the_notice_costs_one_query_on_the_users_webhooks(
    browse: Callable[..., Browser], alice: Account, statements: list[str]
) -> None:
    browser = browse(alice)
    browser.get("/tasks")
    statements.clear()

    browser.get("/tasks")

    on_webhooks = [s for s in statements if re.search(r"\bFROM webhook\b", s)]
    assert len(on_webhooks) == 1
    assert "webhook.user_id" in on_webhooks[0]


# --- what every page is made of -----------------------------------------------------------


def test_webhook_pages_have_the_strict_csp_nothing_inline_and_labels(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    hook = add_webhook(api, alice)
    delivery = insert_delivery(app, hook["id"], n=1, attempts=[{}])
    browser = browse(alice)
    base = f"/webhooks/{hook['id']}"
    paths = ["/webhooks", "/webhooks/new", base, f"{base}/delete"]
    pages = {path: browser.get(path) for path in [*paths, f"{base}/deliveries/{delivery['id']}"]}
    pages["secret"] = browser.post(f"{base}/rotate-secret")

    for path, response in pages.items():
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == HTML_CSP, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert [p.pattern for p in INLINE if p.search(html)] == [], path
        for form in re.findall(r'<form method="post".*?</form>', html, re.S):
            assert csrf_token(form), path
        for attrs in re.findall(r"<(?:input|select|textarea)\b([^>]*)>", html):
            if 'type="hidden"' not in attrs:
                field_id = re.search(r'\bid="([^"]+)"', attrs).group(1)  # type: ignore[union-attr]
                assert f'for="{field_id}"' in html, f"{path}: #{field_id} has no label"
