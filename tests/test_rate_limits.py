"""Per-user rate limit on every authenticated API route (DOABLE_API_RATE_LIMIT)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task
from tests.factories import ApiClient


@pytest.fixture
def limited(make_app: Callable[..., Flask]) -> ApiClient:
    app = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    return ApiClient(app.test_client())


def test_a_user_over_the_limit_gets_429_with_retry_after_and_headers(limited: ApiClient):
    alice = limited.account("alice")
    answers = [
        limited.get("/api/me", alice.token),
        limited.post("/api/tasks", alice.token, json={"title": "one"}),
        limited.get("/api/tasks", alice.token),
    ]
    assert [a.status_code for a in answers] == [200, 201, 200]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"

    over = limited.post("/api/tasks", alice.token, json={"title": "two"})

    assert over.status_code == 429
    assert over.mimetype == "application/problem+json"
    assert int(over.headers["Retry-After"]) > 0
    assert over.headers["X-RateLimit-Remaining"] == "0"
    with limited.client.application.app_context():  # refused before it changed anything
        assert db.session.scalars(sa.select(Task.title)).all() == ["one"]


def test_each_user_has_a_budget_of_their_own(limited: ApiClient):
    alice, bob = limited.account("alice"), limited.account("bob")
    for _ in range(3):
        assert limited.get("/api/me", alice.token).status_code == 200
    assert limited.get("/api/me", alice.token).status_code == 429
    assert limited.get("/api/me", bob.token).status_code == 200


def test_the_budget_follows_the_user_across_logins(limited: ApiClient):
    alice = limited.account("alice")
    again = limited.login(username="alice", password=alice.password).json["token"]
    for token in (alice.token, again, alice.token):
        assert limited.get("/api/me", token).status_code == 200
    assert limited.get("/api/me", again).status_code == 429


def test_calls_without_a_valid_token_count_against_their_address(limited: ApiClient):
    alice = limited.account("alice")
    for _ in range(3):
        assert limited.get("/api/me", "garbage").status_code == 401
    assert limited.get("/api/me", "garbage").status_code == 429
    assert limited.get("/api/me", alice.token).status_code == 200


def test_routes_without_authentication_are_not_counted(limited: ApiClient):
    alice = limited.account("alice")
    for _ in range(5):
        assert limited.client.get("/healthz").status_code == 200
        assert limited.client.get("/api/openapi.json").status_code == 200
    assert limited.get("/api/me", alice.token).status_code == 200


def test_openapi_documents_429_on_authenticated_routes(limited: ApiClient):
    spec = limited.client.get("/api/openapi.json").json
    assert "429" in spec["paths"]["/api/tasks"]["get"]["responses"]
    assert "429" in spec["paths"]["/api/me"]["patch"]["responses"]
