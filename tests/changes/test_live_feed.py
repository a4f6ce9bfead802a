"""The pages' own door to the change feed (``/live/events``, src/doable/changes/views.py):
the session cookie instead of a bearer token, the same JSON as ``GET /api/events``, and
the position a page shows rendered with it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from doable.changes.service import prune
from doable.db import utcnow
from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.pages import Browser

_SEQ = re.compile(r'id="live-script"[^>]*\bdata-seq="(\d+)"')


def rendered_seq(browser: Browser, path: str) -> int:
    page = browser.get(path)
    assert page.status_code == 200
    match = _SEQ.search(page.get_data(as_text=True))
    assert match, "the page renders no feed position"
    return int(match.group(1))


def test_the_feed_reads_with_the_cookie_exactly_as_the_api_answers(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = api.post("/api/tasks", alice.token, json={"title": "Ours"}).json
    share(api, alice, task["id"], bob, "view")
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "Still ours"})
    browser = browse(bob)

    for query in ("after=0", "after=1", "after=0&limit=1"):
        live = browser.get(f"/live/events?{query}")
        assert live.status_code == 200
        assert live.get_json() == api.get(f"/api/events?{query}", bob.token).get_json()
    assert [e["action"] for e in browser.get("/live/events").get_json()["events"]] == [
        "shared",
        "updated",
    ]


def test_the_feed_takes_no_bearer_token_and_no_stranger(
    client: FlaskClient, alice: Account
) -> None:
    response = client.get("/live/events", headers={"Authorization": f"Bearer {alice.token}"})
    assert response.status_code == 302  # to the login page: pages know cookies only
    assert "/login" in response.headers["Location"]


def test_a_position_pruned_or_beyond_the_feed_is_410_problem_details(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    api.post("/api/tasks", alice.token, json={"title": "Soon gone"})
    api.post("/api/tasks", alice.token, json={"title": "Also gone"})
    browser = browse(alice)
    assert_problem(browser.get("/live/events?after=9"), 410)
    assert_problem(browser.get("/live/events?after=-1"), 400)
    with app.app_context():
        prune(now=utcnow() + timedelta(days=365))

    gone = browser.get("/live/events?after=0")

    assert_problem(gone, 410)
    assert gone.get_json()["type"].endswith("feed-position-gone")
    assert gone.get_json()["last_seq"] == 2


def test_pages_render_the_feed_position_they_show(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    assert rendered_seq(browser, "/tasks") == 0
    task = api.post("/api/tasks", alice.token, json={"title": "One"}).json
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "Two"})

    assert rendered_seq(browser, "/tasks") == 2
    assert rendered_seq(browser, f"/tasks/{task['id']}") == 2
