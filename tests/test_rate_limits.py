"""Per-user rate limit on every authenticated API route (DOABLE_API_RATE_LIMIT)."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
import sqlalchemy as sa
from flask import Flask

from doable.auth.models import AuthSession
from doable.db import utcnow
from doable.extensions import db
from doable.tasks.models import Task
from tests.auth.test_tokens import claims_of
from tests.conftest import TEST_JWT_KEY
from tests.support.factories import Account, ApiClient


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


# --- only a live access token spends its user's budget -------------------------------


def _dead_token(api: ApiClient, alice: Account, kind: str) -> str:
    """A token naming alice that no longer (or never did) let anyone in."""
    if kind == "refresh":
        return alice.refresh_token
    if kind == "rotated refresh":
        rotated = api.client.post("/api/token/refresh", json={"refresh_token": alice.refresh_token})
        assert rotated.status_code == 200
        return alice.refresh_token
    if kind == "expired access":
        now = int(time.time())
        claims = {**claims_of(alice.token), "iat": now - 1000, "nbf": now - 1000, "exp": now - 1}
        return jwt.encode(claims, TEST_JWT_KEY, algorithm="HS256")
    other = api.login(username=alice.username, password=alice.password).json
    with api.client.application.app_context():  # that second login is revoked (kind "revoked")
        session = db.session.get(AuthSession, claims_of(other["token"])["sid"])
        session.revoked_at = utcnow()
        db.session.commit()
    return str(other["token"])


@pytest.mark.parametrize("kind", ["refresh", "rotated refresh", "expired access", "revoked"])
def test_dead_tokens_spend_their_senders_budget_not_their_owners(
    limited: ApiClient, kind: str
) -> None:
    alice = limited.account("alice")
    dead = _dead_token(limited, alice, kind)

    spent = [limited.get("/api/me", dead) for _ in range(3)]
    over = limited.get("/api/me", dead)
    mine = limited.get("/api/me", alice.token)

    assert [a.status_code for a in spent] == [401, 401, 401]
    assert [a.headers["X-RateLimit-Remaining"] for a in spent] == ["2", "1", "0"]
    assert over.status_code == 429  # the address's budget is the one spent
    assert mine.status_code == 200
    assert mine.headers["X-RateLimit-Remaining"] == "2"  # alice's is untouched
    assert mine.json["id"] == alice.id


def test_lowercase_bearer_spends_its_users_budget(limited: ApiClient) -> None:
    alice = limited.account("alice")
    for _ in range(3):
        answer = limited.client.get("/api/me", headers={"Authorization": f"bearer {alice.token}"})
        assert answer.status_code == 200
    assert limited.get("/api/me", alice.token).status_code == 429
    assert limited.get("/api/me", "garbage").status_code == 401  # the address still has budget
