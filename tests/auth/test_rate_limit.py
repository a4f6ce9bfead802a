"""Login/register limits per client address, shared by server processes through Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.servers import running_server, server_env


def _register(base: str, name: str) -> requests.Response:
    return requests.post(
        f"{base}/api/register",
        json={"username": name, "email": f"{name}@example.com", "password": "secret123"},
        timeout=10,
    )


def test_auth_limit_in_memory_refuses_the_request_over_the_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute")
    client = app.test_client()
    body = {"email": "nobody@example.com", "password": "wrong-password"}
    statuses = [client.post("/api/login", json=body).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_auth_limit_counts_login_and_register_together(make_app):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="2 per minute")
    client = app.test_client()
    client.post("/api/login", json={"email": "a@example.com", "password": "whatever-pw"})
    client.post("/api/login", json={"email": "a@example.com", "password": "whatever-pw"})
    refused = client.post(
        "/api/register", json={"username": "zed", "email": "z@example.com", "password": "pw123456"}
    )
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"


def test_token_refresh_is_limited_per_address_in_its_own_bucket(make_app):
    """Refreshing needs no password, so anyone may call it: limited like login, but in a
    bucket of its own, so a team refreshing every 15 minutes never locks out logins."""
    app = make_app(
        RATELIMIT_ENABLED=True, REFRESH_RATE_LIMIT="3 per minute", AUTH_RATE_LIMIT="2 per minute"
    )
    client = app.test_client()
    body = {"refresh_token": "not-a-token"}
    statuses = [client.post("/api/token/refresh", json=body).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = client.post("/api/token/refresh", json=body)
    assert refused.mimetype == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-RateLimit-Limit"] == "3"
    login = {"email": "a@example.com", "password": "whatever-pw"}
    assert client.post("/api/login", json=login).status_code == 401  # its own bucket


@pytest.mark.slow
def test_auth_limit_is_shared_by_two_server_processes_through_redis(
    empty_database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
):
    env = server_env(
        empty_database_url,
        tmp_path,
        REDIS_URL=redis_url,
        DOABLE_AUTH_RATE_LIMIT="3 per minute",
        DOABLE_RATELIMIT_KEY_PREFIX=redis_prefix,
    )
    with (
        running_server(env, log_path=tmp_path / "a.log") as first,
        running_server(env, log_path=tmp_path / "b.log") as second,
    ):
        statuses = [
            _register(base, f"user{n}").status_code
            for n, base in enumerate([first, second, first, second, first, second])
        ]
        refused = _register(second, "late")
    assert statuses == [201, 201, 201, 429, 429, 429]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.slow
def test_auth_limit_is_shared_by_the_workers_of_one_server(
    empty_database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
):
    env = server_env(
        empty_database_url,
        tmp_path,
        REDIS_URL=redis_url,
        DOABLE_AUTH_RATE_LIMIT="3 per minute",
        DOABLE_RATELIMIT_KEY_PREFIX=redis_prefix,
        DOABLE_REALTIME_TRANSPORTS="websocket",  # several workers on one port
    )
    with running_server(env, "--workers", "3", log_path=tmp_path / "w.log") as base:
        # New connections each time, so gunicorn spreads them over its workers.
        statuses = [_register(base, f"worker{n}").status_code for n in range(9)]
    assert statuses.count(201) == 3
    assert statuses.count(429) == 6
