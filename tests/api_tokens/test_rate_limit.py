"""Each API token has a budget of its own (DOABLE_API_RATE_LIMIT, counted per token):
a busy script cannot starve its owner's other scripts nor their logins."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.support.api_tokens import new_token
from tests.support.factories import ApiClient

LIMIT = 4


@pytest.fixture
def limited(make_app: Callable[..., Flask]) -> ApiClient:
    app = make_app(RATELIMIT_ENABLED=True, API_RATE_LIMIT=f"{LIMIT} per minute")
    return ApiClient(app.test_client())


def test_two_tokens_of_one_user_have_separate_budgets(limited: ApiClient) -> None:
    alice = limited.account("alice")
    first = new_token(limited, alice, scopes=["tasks:read"])["token"]
    second = new_token(limited, alice, scopes=["tasks:read"])["token"]  # alice: 2 spent

    spent = [limited.get("/api/tasks", first) for _ in range(LIMIT + 1)]

    assert [r.status_code for r in spent] == [200] * LIMIT + [429]
    assert spent[0].headers["X-RateLimit-Limit"] == str(LIMIT)
    assert int(spent[-1].headers["Retry-After"]) > 0
    assert [limited.get("/api/tasks", second).status_code for _ in range(LIMIT)] == [200] * LIMIT
    assert limited.get("/api/tasks", second).status_code == 429
    assert [limited.get("/api/tasks", alice.token).status_code for _ in range(2)] == [200, 200]
    assert limited.get("/api/tasks", alice.token).status_code == 429


def test_calls_refused_for_their_scope_count_against_the_address(limited: ApiClient) -> None:
    alice = limited.account("alice")
    reader = new_token(limited, alice, scopes=["tasks:read"])["token"]
    for _ in range(LIMIT):
        assert limited.post("/api/tasks", reader, json={"title": "x"}).status_code == 403

    assert limited.post("/api/tasks", reader, json={"title": "x"}).status_code == 429
    assert limited.get("/api/tasks", reader).status_code == 200  # the token's own budget
