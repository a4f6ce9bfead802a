"""The calendar feed's token through the API (docs/api.md, Calendar feed): make, read,
replace, revoke; what is stored; who may call; the feed behind it answering 404 once
revoked, 304 to a poll that has it already."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from doable.calendar_feed.models import CalendarFeed
from doable.config import API_TOKEN_KEY_LABEL, derive_key
from doable.extensions import db
from tests.conftest import TEST_SECRET
from tests.support.api_tokens import new_token
from tests.support.calendar_feed import new_feed, path_of, read_feed
from tests.support.factories import TIMESTAMP, Account, ApiClient, assert_problem, at_once

TOKEN = re.compile(r"^dcal_[A-Za-z0-9_-]{43}$")
HASH_KEY = derive_key(TEST_SECRET, API_TOKEN_KEY_LABEL)
NOT_FOUND = "/calendar-feed-not-found"


def _stored(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(CalendarFeed).order_by(CalendarFeed.user_id))
        return [
            {
                "user_id": r.user_id,
                "prefix": r.prefix,
                "token_hash": r.token_hash,
                "used": r.last_used_at,
            }
            for r in rows
        ]


def _gone(api: ApiClient, url: str) -> None:
    body = assert_problem(api.client.get(path_of(url)), 404)
    assert body["type"].endswith(NOT_FOUND)


# --- make, read, revoke ---------------------------------------------------------------


def test_create_answers_the_url_and_token_once_and_stores_only_their_hash(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    response = api.post("/api/calendar/feed", alice.token)

    assert response.status_code == 201
    body = response.json
    assert set(body) == {"url", "token", "prefix", "created_at", "last_used_at"}
    assert TOKEN.match(body["token"])
    assert body["url"] == f"http://localhost/api/calendar/{body['token']}.ics"
    assert body["prefix"] == body["token"][:13]
    assert TIMESTAMP.match(body["created_at"])
    assert body["last_used_at"] is None
    expected = hmac.new(HASH_KEY.encode(), body["token"].encode(), hashlib.sha256).hexdigest()
    assert _stored(app) == [
        {"user_id": alice.id, "prefix": body["prefix"], "token_hash": expected, "used": None}
    ]


def test_the_url_starts_with_the_public_url_when_one_is_set(make_app: Any) -> None:
    api = ApiClient(make_app(PUBLIC_URL="https://tasks.example.com/").test_client())

    body = new_feed(api, api.account())

    assert body["url"] == f"https://tasks.example.com/api/calendar/{body['token']}.ics"


def test_read_shows_the_metadata_never_the_url(api: ApiClient, alice: Account) -> None:
    made = new_feed(api, alice)

    response = api.get("/api/calendar/feed", alice.token)

    assert response.status_code == 200
    assert response.json == {
        "prefix": made["prefix"],
        "created_at": made["created_at"],
        "last_used_at": None,
    }


def test_read_without_a_feed_is_404(api: ApiClient, alice: Account) -> None:
    body = assert_problem(api.get("/api/calendar/feed", alice.token), 404)

    assert body["type"].endswith(NOT_FOUND)


def test_making_a_new_feed_revokes_the_old_url(app: Flask, api: ApiClient, alice: Account) -> None:
    old = new_feed(api, alice)
    read_feed(api, old["url"])

    new = new_feed(api, alice)

    assert new["token"] != old["token"]
    _gone(api, old["url"])
    read_feed(api, new["url"])
    assert [row["prefix"] for row in _stored(app)] == [new["prefix"]]


def test_revoke_ends_the_url_and_the_feed(app: Flask, api: ApiClient, alice: Account) -> None:
    made = new_feed(api, alice)

    response = api.delete("/api/calendar/feed", alice.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    _gone(api, made["url"])
    assert api.get("/api/calendar/feed", alice.token).status_code == 404
    assert _stored(app) == []


def test_revoke_without_a_feed_is_404(api: ApiClient, alice: Account) -> None:
    body = assert_problem(api.delete("/api/calendar/feed", alice.token), 404)

    assert body["type"].endswith(NOT_FOUND)


def test_each_user_revokes_only_their_own(api: ApiClient, alice: Account, bob: Account) -> None:
    alices = new_feed(api, alice)
    bobs = new_feed(api, bob)

    assert api.delete("/api/calendar/feed", bob.token).status_code == 204

    _gone(api, bobs["url"])
    read_feed(api, alices["url"])


def test_concurrent_makes_leave_one_working_feed(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    def make(client: Any, _: int) -> Any:
        response = client.post("/api/calendar/feed", headers=alice.auth)
        return response.status_code, response.get_json()

    results = at_once(app, make, 4)

    assert [status for status, _ in results] == [201] * 4
    (row,) = _stored(app)
    working = [body for _, body in results if body["prefix"] == row["prefix"]]
    assert len(working) == 1
    read_feed(api, working[0]["url"])
    for _, body in results:
        if body is not working[0]:
            _gone(api, body["url"])


def test_deleting_the_account_ends_its_feed(api: ApiClient, alice: Account) -> None:
    made = new_feed(api, alice)

    deleted = api.delete("/api/me", alice.token, json={"current_password": alice.password})

    assert deleted.status_code == 204
    _gone(api, made["url"])


# --- who may call ---------------------------------------------------------------------


def test_the_token_routes_need_a_login(api: ApiClient) -> None:
    for method in ("POST", "GET", "DELETE"):
        response = api.client.open("/api/calendar/feed", method=method)
        assert assert_problem(response, 401)["status"] == 401, method


def test_an_api_token_can_neither_make_read_nor_revoke_a_feed(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    made = new_feed(api, alice)
    script = new_token(api, alice)["token"]

    for method in ("POST", "GET", "DELETE"):
        body = assert_problem(
            api.client.open(
                "/api/calendar/feed", method=method, headers={"Authorization": f"Bearer {script}"}
            ),
            403,
        )
        assert body["type"].endswith("/api-token-not-allowed"), method

    assert [row["prefix"] for row in _stored(app)] == [made["prefix"]]


def test_a_token_never_made_or_of_another_shape_is_404(api: ApiClient, alice: Account) -> None:
    new_feed(api, alice)
    script = new_token(api, alice)["token"]
    unknown = "dcal_" + "A" * 43

    for token in (unknown, "dcal_short", script, "x" * 300, "dcal_" + "A" * 44):
        _gone(api, f"/api/calendar/{token}.ics")


def test_the_feed_takes_no_bearer_token_instead_of_its_own(api: ApiClient, alice: Account) -> None:
    response = api.get("/api/calendar/nothing.ics", alice.token)

    assert assert_problem(response, 404)["type"].endswith(NOT_FOUND)


# --- polling --------------------------------------------------------------------------


def test_a_poll_with_the_etag_is_304_and_a_change_makes_it_200(
    api: ApiClient, alice: Account
) -> None:
    task = api.post("/api/tasks", alice.token, json={"title": "Rent", "due_date": "2026-12-01"})
    url = new_feed(api, alice)["url"]
    first = api.client.get(path_of(url))
    etag = first.headers["ETag"]

    again = api.client.get(path_of(url), headers={"If-None-Match": etag})
    changed = api.patch(f"/api/tasks/{task.json['id']}", alice.token, json={"title": "Rent!"})
    after = api.client.get(path_of(url), headers={"If-None-Match": etag})

    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert changed.status_code == 200
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert b"SUMMARY:Rent!" in after.get_data()


def test_the_same_tasks_give_the_same_bytes(api: ApiClient, alice: Account) -> None:
    api.post("/api/tasks", alice.token, json={"title": "Rent", "due_date": "2026-12-01"})
    url = new_feed(api, alice)["url"]

    first = api.client.get(path_of(url))
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=3)):
        later = api.client.get(path_of(url))

    assert later.get_data() == first.get_data()
    assert later.headers["ETag"] == first.headers["ETag"]


def test_a_refused_poll_is_no_store(api: ApiClient) -> None:
    response = api.client.get("/api/calendar/dcal_nothing.ics")

    assert response.headers["Cache-Control"] == "no-store"


def test_last_used_at_is_written_at_most_once_a_minute(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    url = new_feed(api, alice)["url"]
    start = datetime.now(UTC)

    with time_machine.travel(start, tick=False):
        read_feed(api, url)
    first = _stored(app)[0]["used"]
    with time_machine.travel(start + timedelta(seconds=50), tick=False):
        read_feed(api, url)
    unchanged = _stored(app)[0]["used"]
    with time_machine.travel(start + timedelta(seconds=70), tick=False):
        read_feed(api, url)
        shown = api.get("/api/calendar/feed", alice.token).json["last_used_at"]
    later = _stored(app)[0]["used"]

    assert abs(first - start) < timedelta(seconds=1)
    assert unchanged == first
    assert abs(later - (start + timedelta(seconds=70))) < timedelta(seconds=1)
    assert shown == later.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_each_feed_url_has_a_polling_budget_of_its_own(make_app: Any) -> None:
    api = ApiClient(make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute").test_client())
    alice, bob = api.account("alice"), api.account("bob")
    alices, bobs = new_feed(api, alice)["url"], new_feed(api, bob)["url"]

    polls = [api.client.get(path_of(alices)).status_code for _ in range(3)]
    over = api.client.get(path_of(alices))

    assert polls == [200, 200, 200]
    assert assert_problem(over, 429)["status"] == 429
    assert int(over.headers["Retry-After"]) > 0
    read_feed(api, bobs)  # the same address, another feed
    assert api.get("/api/calendar/feed", alice.token).status_code == 200  # not alice's API budget


def test_the_access_log_keeps_only_the_token_s_prefix(
    make_app: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    api = ApiClient(make_app().test_client())
    made = new_feed(api, api.account())
    capsys.readouterr()

    read_feed(api, made["url"])

    (access,) = [line for line in capsys.readouterr().err.splitlines() if "doable.access" in line]
    assert f"GET /api/calendar/{made['prefix']}….ics 200 " in access
    assert made["token"] not in access
