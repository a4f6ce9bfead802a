"""Every API route against every scope (docs/api.md, API tokens): a token holding the
route's scope gets through, any other token is 403 naming the scope it lacks, and the
account and token routes refuse API tokens altogether. The routes are read from the
app, so a new route without a scope decision here fails."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from doable.api.auth import SCOPE_EXTENSION
from doable.api_tokens.models import SCOPES
from tests.support.api_tokens import new_token
from tests.support.factories import Account, ApiClient, assert_problem

READ, WRITE, EVENTS = "tasks:read", "tasks:write", "events:read"
#: (method, rule) -> the scope an API token needs; None: API tokens refused.
DECIDED: dict[tuple[str, str], str | None] = {
    ("POST", "/api/logout"): None,
    ("GET", "/api/me"): None,
    ("PATCH", "/api/me"): None,
    ("DELETE", "/api/me"): None,
    ("POST", "/api/tokens"): None,
    ("GET", "/api/tokens"): None,
    ("DELETE", "/api/tokens/<int:token_id>"): None,
    # A feed URL is a credential of its own: only a login may mint, read or revoke it.
    ("POST", "/api/calendar/feed"): None,
    ("GET", "/api/calendar/feed"): None,
    ("DELETE", "/api/calendar/feed"): None,
    ("GET", "/api/tasks"): READ,
    ("POST", "/api/tasks"): WRITE,
    ("GET", "/api/tasks/<int:task_id>"): READ,
    ("PUT", "/api/tasks/<int:task_id>"): WRITE,
    ("PATCH", "/api/tasks/<int:task_id>"): WRITE,
    ("DELETE", "/api/tasks/<int:task_id>"): WRITE,
    ("GET", "/api/categories"): READ,
    ("POST", "/api/categories"): WRITE,
    ("GET", "/api/categories/<int:category_id>"): READ,
    ("PUT", "/api/categories/<int:category_id>"): WRITE,
    ("PATCH", "/api/categories/<int:category_id>"): WRITE,
    ("DELETE", "/api/categories/<int:category_id>"): WRITE,
    ("GET", "/api/tasks/<int:task_id>/share"): READ,
    ("POST", "/api/tasks/<int:task_id>/share"): WRITE,
    ("DELETE", "/api/tasks/<int:task_id>/share/<int:user_id>"): WRITE,
    ("GET", "/api/tasks/<int:task_id>/attachments"): READ,
    ("POST", "/api/tasks/<int:task_id>/attachments"): WRITE,
    ("GET", "/api/tasks/<int:task_id>/attachments/<int:attachment_id>"): READ,
    ("DELETE", "/api/tasks/<int:task_id>/attachments/<int:attachment_id>"): WRITE,
    ("GET", "/api/events"): EVENTS,
    ("GET", "/api/sync"): EVENTS,
    ("GET", "/api/tasks/<int:task_id>/history"): READ,
    # Notifications are about your tasks: read with them, marked read as a write.
    ("GET", "/api/notifications"): READ,
    ("POST", "/api/notifications/<int:notification_id>/read"): WRITE,
    ("POST", "/api/notifications/read"): WRITE,
    ("POST", "/api/tasks/<int:task_id>/complete"): WRITE,
    ("POST", "/api/tasks/<int:task_id>/skip"): WRITE,
    ("GET", "/api/tasks/<int:task_id>/occurrences"): READ,
    # Reading a line as a task writes nothing: a reader may offer quick add's preview.
    ("POST", "/api/tasks/parse"): READ,
    # One action on many tasks: each item a write, as its single route is.
    ("POST", "/api/tasks/bulk"): WRITE,
}
#: Routes that need no token at all.
PUBLIC = {
    ("POST", "/api/register"),
    ("POST", "/api/login"),
    ("POST", "/api/token/refresh"),
}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?[^<>]+>")
#: An id no test row has: an allowed call reaches the service and is 404 (or 400).
ABSENT = "999999"


def decided(method: str, rule: str) -> str | None:
    """The scope decision for a route; webhook routes all need ``webhooks:manage``."""
    if rule.startswith("/api/webhooks"):
        return "webhooks:manage"
    assert (method, rule) in DECIDED, f"{method} {rule}: no scope decision (add it here)"
    return DECIDED[(method, rule)]


def authenticated_routes(app: Flask) -> list[tuple[str, str, str | None]]:
    """Every (method, rule) under /api that asks for a token, with its scope decision."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if not getattr(view, "requires_auth", False):
                assert (method, rule.rule) in PUBLIC or method == "GET", (method, rule.rule)
                continue
            assert view.required_scope == decided(method, rule.rule), (method, rule.rule)
            routes.append((method, rule.rule, view.required_scope))
    return routes


#: Scopes a token must hold with another (docs/api.md, API tokens).
IMPLIED = {"webhooks:manage": ["events:read"]}


def holding(scope: str) -> list[str]:
    """The fewest scopes a token holding ``scope`` may have."""
    return [scope, *IMPLIED.get(scope, [])]


def without(scope: str) -> list[str]:
    """Every scope a token may hold together, except ``scope``."""
    return [s for s in SCOPES if s != scope and scope not in IMPLIED.get(s, [])]


def _call(api: ApiClient, method: str, rule: str, token: str) -> Any:
    path = _ARGUMENT.sub(ABSENT, rule)
    return api.client.open(path, method=method, headers={"Authorization": f"Bearer {token}"})


def test_every_api_route_has_its_scope_decided_in_code_and_here(app: Flask) -> None:
    routes = authenticated_routes(app)

    assert {(m, r) for m, r, _ in routes} >= set(DECIDED)
    assert {scope for _, _, scope in routes} >= {None, READ, WRITE, EVENTS}


def test_a_token_holding_the_route_s_scope_gets_through(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    tokens = {scope: new_token(api, alice, scopes=holding(scope))["token"] for scope in SCOPES}
    passed = {}
    for method, rule, scope in authenticated_routes(app):
        if scope is not None:
            passed[(method, rule)] = _call(api, method, rule, tokens[scope]).status_code

    assert passed
    assert {key: status for key, status in passed.items() if status in (401, 403)} == {}


def test_a_token_without_the_route_s_scope_is_403_naming_it(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    tokens = {scope: new_token(api, alice, scopes=holding(scope))["token"] for scope in SCOPES}
    all_but = {scope: new_token(api, alice, scopes=without(scope))["token"] for scope in SCOPES}
    checked = 0
    for method, rule, scope in authenticated_routes(app):
        if scope is None:
            continue
        others = [tokens[s] for s in SCOPES if scope not in holding(s)] + [all_but[scope]]
        for token in others:
            body = assert_problem(_call(api, method, rule, token), 403)
            assert body["type"].endswith("/insufficient-scope"), (method, rule)
            assert body["required_scope"] == scope, (method, rule)
            assert scope in body["detail"]
            checked += 1

    assert checked >= 3 * 20


def test_a_token_that_may_manage_webhooks_must_also_read_events(
    api: ApiClient, alice: Account
) -> None:
    response = api.post(
        "/api/tokens", alice.token, json={"name": "hooks", "scopes": ["webhooks:manage"]}
    )

    body = assert_problem(response, 400)
    assert "events:read" in body["errors"]["scopes"][0]


def test_account_and_token_routes_refuse_every_api_token(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    every_scope = new_token(api, alice)["token"]
    refused = [
        (method, rule)
        for method, rule, scope in authenticated_routes(app)
        if scope is None
        and "api-token-not-allowed"
        in assert_problem(_call(api, method, rule, every_scope), 403)["type"]
    ]

    assert sorted(refused) == sorted(key for key, scope in DECIDED.items() if scope is None)
    assert api.get("/api/me", alice.token).status_code == 200  # the login is untouched
    assert len(api.get("/api/tokens", alice.token).json["tokens"]) == 1


def test_a_login_s_access_token_still_reaches_every_scoped_route(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    statuses = {
        (method, rule): _call(api, method, rule, alice.token).status_code
        for method, rule, scope in authenticated_routes(app)
        if scope is not None
    }

    assert {key: status for key, status in statuses.items() if status in (401, 403)} == {}


def test_the_openapi_document_names_each_route_s_scope(app: Flask, spec: dict[str, Any]) -> None:
    for method, rule, scope in authenticated_routes(app):
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
        operation = spec["paths"][path][method.lower()]
        assert operation.get(SCOPE_EXTENSION) == scope, (method, rule)
        assert "403" in operation["responses"], (method, rule)
