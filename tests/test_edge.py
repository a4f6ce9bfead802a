"""What the app does at its edge: reverse proxies, host names, CORS, form bounds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, request

from doable.config import ConfigError
from tests.support.factories import ApiClient

PAGE_ORIGIN = "https://app.example.com"


def _login_from(client, forwarded_for: str):
    return client.post(
        "/api/login",
        json={"username": "nobody", "password": "wrong password"},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_behind_a_proxy_each_forwarded_client_has_its_own_login_budget(
    make_app: Callable[..., Flask],
):
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="1 per minute", PROXY_HOPS=1)
    client = app.test_client()
    assert _login_from(client, "203.0.113.1").status_code == 401
    assert _login_from(client, "203.0.113.1").status_code == 429
    assert _login_from(client, "203.0.113.2").status_code == 401


def test_without_a_proxy_forwarded_headers_are_ignored(make_app: Callable[..., Flask]):
    """Nobody dodges a limit by inventing X-Forwarded-For when no proxy sets it."""
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="1 per minute")
    client = app.test_client()
    assert _login_from(client, "203.0.113.1").status_code == 401
    assert _login_from(client, "203.0.113.2").status_code == 429


@pytest.mark.parametrize(
    ("hops", "seen"),
    [
        (1, {"scheme": "https", "host": "tasks.example.com", "remote": "203.0.113.7"}),
        (0, {"scheme": "http", "host": "localhost", "remote": "127.0.0.1"}),
    ],
)
def test_the_proxy_s_client_scheme_and_host_become_the_request_s(
    make_app: Callable[..., Flask], hops: int, seen: dict[str, str]
):
    app = make_app(PROXY_HOPS=hops)

    def whoami():
        return {"scheme": request.scheme, "host": request.host, "remote": request.remote_addr}

    app.add_url_rule("/_whoami", view_func=whoami)
    forwarded = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "tasks.example.com",
    }
    assert app.test_client().get("/_whoami", headers=forwarded).json == seen


def test_only_trusted_host_names_are_answered(make_app: Callable[..., Flask]):
    app = make_app(TRUSTED_HOSTS="tasks.example.com")
    client = app.test_client()
    good = client.get("/api/openapi.json", headers={"Host": "tasks.example.com"})
    bad = client.get("/api/openapi.json", headers={"Host": "evil.example.net"})
    assert good.status_code == 200
    assert bad.status_code == 400
    assert bad.mimetype == "application/problem+json"


def _preflight(client, origin: str):
    return client.options(
        "/api/tasks",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )


def test_cors_is_off_by_default(app: Flask):
    client = app.test_client()
    assert "Access-Control-Allow-Origin" not in _preflight(client, PAGE_ORIGIN).headers
    response = client.get("/api/openapi.json", headers={"Origin": PAGE_ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_listed_origins_only(make_app: Callable[..., Flask]):
    app = make_app(CORS_ORIGINS=PAGE_ORIGIN)
    api = ApiClient(app.test_client())
    alice = api.account("alice")

    preflight = _preflight(api.client, PAGE_ORIGIN)
    assert preflight.headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight.headers

    listed = api.get("/api/tasks", alice.token, headers={"Origin": PAGE_ORIGIN})
    assert listed.headers["Access-Control-Allow-Origin"] == PAGE_ORIGIN
    assert "X-Request-Id" in listed.headers["Access-Control-Expose-Headers"]

    other = "https://evil.example.net"
    assert "Access-Control-Allow-Origin" not in _preflight(api.client, other).headers


def test_a_form_with_too_many_parts_is_413(make_app: Callable[..., Flask]):
    app = make_app(MAX_FORM_PARTS=10)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    task = api.post("/api/tasks", alice.token, json={"title": "t"}).json
    fields = {f"field{n}": "x" for n in range(20)}
    response = api.post(
        f"/api/tasks/{task['id']}/attachments",
        alice.token,
        data=fields,
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PROXY_HOPS", "-1"),
        ("PROXY_HOPS", "two"),
        ("TRUSTED_HOSTS", "http://tasks.example.com"),
        ("TRUSTED_HOSTS", "tasks.example.com/path"),
        ("CORS_ORIGINS", "*"),
        ("MAX_FORM_PARTS", "0"),
        ("REALTIME_TRANSPORTS", "polling"),  # the web pages need WebSocket
        ("REALTIME_TRANSPORTS", "smoke-signals"),
    ],
)
def test_edge_settings_are_checked(make_app: Callable[..., Flask], key: str, value: str):
    with pytest.raises(ConfigError, match=f"DOABLE_{key}"):
        make_app(**{key: value})


#: What the nginx of docs/deploy.md sends for a page at https://tasks.example.com.
NGINX_HEADERS = {
    "Host": "tasks.example.com",
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "tasks.example.com",
    "X-Forwarded-Port": "443",
}


def _socket_handshake(app: Flask, origin: str) -> str:
    """The Engine.IO answer to a handshake from a page on ``origin``, through the proxy
    headers: the Origin check runs first, then the long-polling handshake."""
    response = app.test_client().get(
        "/socket.io/?EIO=4&transport=polling", headers={**NGINX_HEADERS, "Origin": origin}
    )
    return response.get_data(as_text=True)


def test_behind_the_documented_nginx_our_own_pages_may_open_sockets(
    make_app: Callable[..., Flask],
):
    app = make_app(PROXY_HOPS=1, TRUSTED_HOSTS="tasks.example.com")
    assert _socket_handshake(app, "https://tasks.example.com").startswith('0{"sid":')
    for foreign in ("https://evil.example.net", "http://tasks.example.com", "null"):
        assert "Not an accepted origin" in _socket_handshake(app, foreign)


def test_behind_the_documented_nginx_pages_and_api_see_the_public_request(
    make_app: Callable[..., Flask],
):
    app = make_app(PROXY_HOPS=1, TRUSTED_HOSTS="tasks.example.com")

    def whoami():
        return {"url": request.url_root, "remote": request.remote_addr}

    app.add_url_rule("/_whoami", view_func=whoami)
    seen = app.test_client().get("/_whoami", headers=NGINX_HEADERS).json
    assert seen == {"url": "https://tasks.example.com/", "remote": "203.0.113.7"}


def test_only_the_swagger_page_may_run_inline_scripts(make_app: Callable[..., Flask]):
    app = make_app()
    app.add_url_rule("/_page", view_func=lambda: "<html><script>alert(1)</script></html>")
    client = app.test_client()
    page_csp = client.get("/_page").headers["Content-Security-Policy"]
    docs_csp = client.get("/api/docs").headers["Content-Security-Policy"]
    assert "script-src 'self';" in page_csp
    assert "sha256-" not in page_csp
    assert "sha256-" in docs_csp
