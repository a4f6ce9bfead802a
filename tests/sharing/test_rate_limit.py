"""Sharing by email answers whether an address has an account (404, or its username):
those shares have a per-user budget of their own (DOABLE_SHARE_BY_EMAIL_RATE_LIMIT),
far below the API's, counted across the API and the task page's share form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.sharing.models import Share
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.pages import Browser


@pytest.fixture
def limited_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(
        RATELIMIT_ENABLED=True,
        API_RATE_LIMIT="100 per minute",
        SHARE_BY_EMAIL_RATE_LIMIT="2 per hour",
    )


@pytest.fixture
def limited(limited_app: Flask) -> ApiClient:
    return ApiClient(limited_app.test_client())


def _task(api: ApiClient, owner: Account) -> int:
    return int(api.post("/api/tasks", owner.token, json={"title": "Plan"}).json["id"])


def _share(api: ApiClient, owner: Account, task_id: int, **who: Any) -> Any:
    return api.post(f"/api/tasks/{task_id}/share", owner.token, json={**who, "permission": "view"})


def _shares(app: Flask) -> list[tuple[int, int]]:
    with app.app_context():
        rows = db.session.execute(sa.select(Share.task_id, Share.user_id))
        return sorted((task_id, user_id) for task_id, user_id in rows)


def test_share_by_email_over_the_limit_is_429_with_retry_after_and_stores_nothing(
    limited: ApiClient, limited_app: Flask
) -> None:
    alice, bob, carol = (limited.account(name) for name in ("alice", "bob", "carol"))
    task_id = _task(limited, alice)
    first = _share(limited, alice, task_id, email="nobody@example.com")
    second = _share(limited, alice, task_id, email=bob.email)

    over = _share(limited, alice, task_id, email=carol.email)

    assert (first.status_code, second.status_code) == (404, 201)
    assert_problem(over, 429)
    assert int(over.headers["Retry-After"]) > 0
    assert "carol" not in over.get_data(as_text=True)
    assert _shares(limited_app) == [(task_id, bob.id)]


def test_share_by_username_does_not_count_and_is_not_limited(limited: ApiClient) -> None:
    alice, bob = limited.account("alice"), limited.account("bob")
    task_id = _task(limited, alice)
    for _ in range(3):
        assert _share(limited, alice, task_id, username="bob").status_code in (200, 201)
    for address in ("x@example.com", bob.email):
        assert _share(limited, alice, task_id, email=address).status_code in (404, 200)

    assert _share(limited, alice, task_id, username="nobody").status_code == 404
    assert_problem(_share(limited, alice, task_id, email="y@example.com"), 429)


def test_share_by_email_budget_is_per_user(limited: ApiClient) -> None:
    alice, bob, carol = (limited.account(name) for name in ("alice", "bob", "carol"))
    alices, bobs = _task(limited, alice), _task(limited, bob)
    for _ in range(2):
        _share(limited, alice, alices, email="nobody@example.com")
    assert_problem(_share(limited, alice, alices, email=carol.email), 429)

    response = _share(limited, bob, bobs, email=carol.email)

    assert response.status_code == 201


def test_share_form_by_email_counts_in_the_same_bucket(
    limited: ApiClient, limited_app: Flask
) -> None:
    alice, bob = limited.account("alice"), limited.account("bob")
    task_id = _task(limited, alice)
    browser = Browser(limited_app.test_client())
    browser.login(alice)
    for _ in range(2):
        _share(limited, alice, task_id, email="nobody@example.com")
    by_name = browser.post(
        f"/tasks/{task_id}/share", {"share-who": "nobody", "share-permission": "view"}
    )

    over = browser.post(
        f"/tasks/{task_id}/share", {"share-who": bob.email, "share-permission": "view"}
    )

    assert by_name.status_code == 400  # no such user, shown by the field: not limited
    assert over.status_code == 429
    assert over.mimetype == "text/html"
    assert int(over.headers["Retry-After"]) > 0
    assert _shares(limited_app) == []


def test_openapi_documents_the_share_by_email_limit(limited: ApiClient) -> None:
    spec = limited.client.get("/api/openapi.json").json
    operation = spec["paths"]["/api/tasks/{task_id}/share"]["post"]

    assert "429" in operation["responses"]
    assert "DOABLE_SHARE_BY_EMAIL_RATE_LIMIT" in operation["description"]
