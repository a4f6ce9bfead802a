"""Conventions for every /api route (docs/api.md, Conventions and Errors): Problem
Details, request ids, body rules, security headers and rate-limit headers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from doable.api.parsing import accepts
from doable.auth.models import User
from doable.errors import ProblemType
from doable.extensions import csrf, db
from doable.sharing.models import Share
from tests.support.factories import PASSWORD, PROBLEM_JSON, Account, ApiClient, assert_problem_type

SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
USER = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}


def _user_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def _assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The response is a Problem Details document for ``status``; return its body."""
    assert response.status_code == status
    assert response.mimetype == PROBLEM_JSON
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == status
    assert_problem_type(body)
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


@csrf.exempt  # an API route: bearer tokens, no cookies
def _boom_view() -> None:
    db.session.add(User(username="boom", email="boom@example.com", password_hash="x"))
    db.session.flush()
    raise RuntimeError("secret internals")


@pytest.fixture
def boom_app(make_app: Callable[..., Flask]) -> Flask:
    """An app with a route that writes a row, then fails unexpectedly."""
    app = make_app()
    app.add_url_rule("/api/_boom", view_func=_boom_view, methods=["POST"])
    return app


@pytest.fixture
def limited_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="2 per minute")


def _bad_login(client: FlaskClient, address: str = "127.0.0.1") -> TestResponse:
    return client.post(
        "/api/login",
        json={"username": "nobody", "password": "wrong password"},
        environ_base={"REMOTE_ADDR": address},
    )


# --- Problem Details for each kind of error ------------------------------------------


def test_get_unknown_route_returns_404_problem(client: FlaskClient) -> None:
    response = client.get("/api/no-such-thing")

    body = _assert_problem(response, 404)
    assert body["title"] == "Not Found"
    assert body["detail"]


def test_get_on_post_only_route_returns_405_with_allow_header(client: FlaskClient) -> None:
    response = client.get("/api/register")

    body = _assert_problem(response, 405)
    assert body["title"] == "Method Not Allowed"
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert "POST" in allowed
    assert "GET" not in allowed


def test_post_malformed_json_returns_400_naming_body(app: Flask, client: FlaskClient) -> None:
    response = client.post(
        "/api/register", data='{"username": "alice",', content_type="application/json"
    )

    body = _assert_problem(response, 400)
    assert list(body["errors"]) == ["body"]
    assert _user_count(app) == 0


@pytest.mark.parametrize(
    "payload", [[USER], "alice", 42, None], ids=["array", "string", "number", "null"]
)
def test_post_json_that_is_not_an_object_returns_400(
    app: Flask, client: FlaskClient, payload: Any
) -> None:
    response = client.post(
        "/api/register", data=json.dumps(payload), content_type="application/json"
    )

    body = _assert_problem(response, 400)
    assert "body" in body["errors"]
    assert _user_count(app) == 0


def test_post_form_data_to_json_route_returns_415_and_stores_nothing(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post("/api/register", data=USER)

    body = _assert_problem(response, 415)
    assert "application/json" in body["detail"]
    assert _user_count(app) == 0


def test_post_text_plain_json_to_json_route_returns_415_and_stores_nothing(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post("/api/register", data=json.dumps(USER), content_type="text/plain")

    _assert_problem(response, 415)
    assert _user_count(app) == 0


def test_post_json_without_content_type_returns_415_and_stores_nothing(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post("/api/register", data=json.dumps(USER))

    _assert_problem(response, 415)
    assert _user_count(app) == 0


@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json"])
def test_post_json_over_max_json_size_returns_413_and_stores_nothing(
    make_app: Callable[..., Flask], content_type: str
) -> None:
    app = make_app(MAX_JSON_SIZE=1000)
    body = {**USER, "email": "a" * 1000 + "@example.com"}

    response = app.test_client().post(
        "/api/register", data=json.dumps(body), content_type=content_type
    )

    _assert_problem(response, 413)
    assert _user_count(app) == 0


def test_post_json_under_max_json_size_is_accepted(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_JSON_SIZE=1000)

    response = app.test_client().post("/api/register", json=USER)

    assert response.status_code == 201
    assert _user_count(app) == 1


def test_post_body_over_max_content_length_returns_413(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_UPLOAD_SIZE=1)

    @csrf.exempt
    @accepts("application/octet-stream")
    def upload() -> dict[str, int]:
        return {"size": len(request.get_data())}

    app.add_url_rule("/api/_upload", view_func=upload, methods=["POST"])
    client = app.test_client()
    limit = app.config["MAX_CONTENT_LENGTH"]

    response = client.post(
        "/api/_upload", data=b"x" * (limit + 1), content_type="application/octet-stream"
    )

    _assert_problem(response, 413)
    under = client.post("/api/_upload", data=b"x" * 10, content_type="application/octet-stream")
    assert under.status_code == 200
    assert under.json == {"size": 10}


def test_get_me_without_token_returns_401_problem_with_challenge(
    client: FlaskClient,
) -> None:
    response = client.get("/api/me")

    _assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- unexpected errors ----------------------------------------------------------------


def test_unexpected_exception_returns_500_problem_without_internals(boom_app: Flask) -> None:
    response = boom_app.test_client().post("/api/_boom")

    body = _assert_problem(response, 500)
    assert body["title"] == "Internal Server Error"
    assert body["detail"]
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "secret internals", "RuntimeError", ".py", 'File "'):
        assert leak not in text


def test_unexpected_exception_rolls_back_the_transaction(boom_app: Flask) -> None:
    boom_app.test_client().post("/api/_boom")

    assert _user_count(boom_app) == 0


def test_unexpected_exception_leaves_the_app_serving(boom_app: Flask) -> None:
    client = boom_app.test_client()
    client.post("/api/_boom")

    response = client.post("/api/register", json=USER)

    assert response.status_code == 201
    assert _user_count(boom_app) == 1


# --- request ids ----------------------------------------------------------------------


@pytest.mark.parametrize("sent", ["abc-123", "client.trace:42_X", "a" * 128])
def test_request_with_sane_request_id_echoes_it(client: FlaskClient, sent: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": sent})

    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == sent


def test_problem_with_sane_request_id_repeats_it_in_the_body(client: FlaskClient) -> None:
    response = client.get("/api/no-such-thing", headers={"X-Request-Id": "trace-7"})

    body = _assert_problem(response, 404)
    assert response.headers["X-Request-Id"] == "trace-7"
    assert body["request_id"] == "trace-7"


@pytest.mark.parametrize(
    "sent",
    ["a" * 129, "two words", "<script>alert(1)</script>", "id;drop", ""],
    ids=["too-long", "space", "markup", "semicolon", "empty"],
)
def test_request_with_insane_request_id_gets_a_fresh_one(client: FlaskClient, sent: str) -> None:
    response = client.get("/api/no-such-thing", headers={"X-Request-Id": sent})

    body = _assert_problem(response, 404)
    fresh = response.headers["X-Request-Id"]
    assert fresh != sent
    assert SANE_ID.match(fresh)
    assert body["request_id"] == fresh


def test_requests_without_request_id_get_unique_ones(client: FlaskClient) -> None:
    ids = {client.get("/healthz").headers["X-Request-Id"] for _ in range(5)}

    assert len(ids) == 5
    assert all(SANE_ID.match(rid) for rid in ids)


def test_api_response_without_request_id_gets_one(api: ApiClient) -> None:
    response = api.register("alice")

    assert response.status_code == 201
    assert SANE_ID.match(response.headers["X-Request-Id"])


def test_log_lines_on_stderr_carry_the_request_id(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app()  # built here, so its log handler writes to the captured stderr
    app.add_url_rule("/api/_boom", view_func=_boom_view, methods=["POST"])

    app.test_client().post("/api/_boom", headers={"X-Request-Id": "trace-log-2"})

    lines = [line for line in capsys.readouterr().err.splitlines() if "unhandled error" in line]
    assert lines
    assert "trace-log-2" in lines[0]


def test_log_lines_in_production_are_json_with_the_request_id(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(ENV="production")
    app.add_url_rule("/api/_boom", view_func=_boom_view, methods=["POST"])

    app.test_client().post("/api/_boom", headers={"X-Request-Id": "trace-log-3"})

    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    errors = [r for r in records if r["message"] == "unhandled error"]
    assert errors
    assert errors[0]["request_id"] == "trace-log-3"
    assert errors[0]["level"] == "ERROR"


# --- security headers and content types ----------------------------------------------


def _assert_security_headers(response: TestResponse) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    frame_ancestors = "frame-ancestors" in headers.get("Content-Security-Policy", "")
    assert headers.get("X-Frame-Options") in ("DENY", "SAMEORIGIN") or frame_ancestors
    assert headers["Referrer-Policy"]


def test_json_response_carries_security_headers(api: ApiClient) -> None:
    response = api.register("alice")

    assert response.status_code == 201
    assert response.mimetype == "application/json"
    _assert_security_headers(response)


def test_health_response_carries_security_headers(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    _assert_security_headers(response)


def test_error_response_carries_security_headers(client: FlaskClient) -> None:
    response = client.get("/api/no-such-thing")

    _assert_problem(response, 404)
    _assert_security_headers(response)


def test_unexpected_error_response_carries_security_headers(boom_app: Flask) -> None:
    response = boom_app.test_client().post("/api/_boom")

    _assert_problem(response, 500)
    _assert_security_headers(response)


ERROR_REQUESTS: dict[str, tuple[int, Callable[[FlaskClient], TestResponse]]] = {
    "not-found": (404, lambda c: c.get("/api/no-such-thing")),
    "method": (405, lambda c: c.delete("/api/login")),
    "malformed": (400, lambda c: c.post("/api/login", data="{", content_type="application/json")),
    "validation": (400, lambda c: c.post("/api/register", json={"username": "x"})),
    "unknown-field": (400, lambda c: c.post("/api/register", json={**USER, "admin": True})),
    "no-token": (401, lambda c: c.get("/api/me")),
    "bad-token": (401, lambda c: c.get("/api/me", headers={"Authorization": "Bearer nope"})),
    "media-type": (415, lambda c: c.post("/api/login", data="x", content_type="text/plain")),
    "boom": (500, lambda c: c.post("/api/_boom")),
}


@pytest.mark.parametrize("case", list(ERROR_REQUESTS))
def test_error_response_is_problem_json(boom_app: Flask, case: str) -> None:
    status, send = ERROR_REQUESTS[case]

    response = send(boom_app.test_client())

    _assert_problem(response, status)
    _assert_security_headers(response)


def test_conflict_response_is_problem_json(api: ApiClient) -> None:
    api.register("alice")

    response = api.register("alice")

    _assert_problem(response, 409)


# --- problem types ---------------------------------------------------------------------

PROBLEMS_DOC = Path(__file__).resolve().parents[1] / "docs" / "problems.md"
#: ``| `<type uri>` (general) | <status> | <meaning> |`` rows of docs/problems.md.
_DOC_ROW = re.compile(r"^\| `([^`]+)`(?: \(general\))? \| (\d{3}) \| (.+) \|$", re.MULTILINE)


def _share(api: ApiClient, token: str, task_id: int, username: str) -> TestResponse:
    body = {"username": username, "permission": "view"}
    return api.post(f"/api/tasks/{task_id}/share", token, json=body)


def test_share_unknown_user_and_share_unknown_task_are_404s_of_different_types(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    task = api.post("/api/tasks", alice.token, json={"title": "t"}).json

    unknown_user = _share(api, alice.token, task["id"], "nobody")
    unknown_task = _share(api, alice.token, task["id"] + 1000, bob.username)

    assert _assert_problem(unknown_user, 404)["type"] == ProblemType.USER_NOT_FOUND.uri
    assert _assert_problem(unknown_task, 404)["type"] == ProblemType.TASK_NOT_FOUND.uri
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Share)) == 0


TYPED_REQUESTS: dict[str, tuple[ProblemType, Callable[[FlaskClient], TestResponse]]] = {
    "no route": (ProblemType.NOT_FOUND, ERROR_REQUESTS["not-found"][1]),
    "method": (ProblemType.METHOD_NOT_ALLOWED, ERROR_REQUESTS["method"][1]),
    "malformed": (ProblemType.INVALID_INPUT, ERROR_REQUESTS["malformed"][1]),
    "validation": (ProblemType.INVALID_INPUT, ERROR_REQUESTS["validation"][1]),
    "no token": (ProblemType.AUTHENTICATION_REQUIRED, ERROR_REQUESTS["no-token"][1]),
    "bad token": (ProblemType.INVALID_TOKEN, ERROR_REQUESTS["bad-token"][1]),
    "bad login": (ProblemType.INVALID_CREDENTIALS, _bad_login),
    "media type": (ProblemType.UNSUPPORTED_MEDIA_TYPE, ERROR_REQUESTS["media-type"][1]),
    "url": (ProblemType.URL_TOO_LONG, lambda c: c.get("/api/tasks?q=" + "x" * 9000)),
    "boom": (ProblemType.INTERNAL_ERROR, ERROR_REQUESTS["boom"][1]),
}


@pytest.mark.parametrize("case", list(TYPED_REQUESTS))
def test_each_kind_of_error_answers_its_own_problem_type(boom_app: Flask, case: str) -> None:
    kind, send = TYPED_REQUESTS[case]

    response = send(boom_app.test_client())

    assert _assert_problem(response, kind.status)["type"] == kind.uri


def test_registering_a_taken_username_or_email_answers_which_one(api: ApiClient) -> None:
    api.register("alice")

    username = api.register("alice", email="other@example.com")
    email = api.register("alice2", email="alice@example.com")

    assert _assert_problem(username, 409)["type"] == ProblemType.USERNAME_TAKEN.uri
    assert _assert_problem(email, 409)["type"] == ProblemType.EMAIL_TAKEN.uri


def test_every_problem_type_is_documented_with_its_status() -> None:
    rows = _DOC_ROW.findall(PROBLEMS_DOC.read_text())
    documented = {uri: (int(status), meaning) for uri, status, meaning in rows}

    assert documented == {kind.uri: (kind.status, kind.meaning) for kind in ProblemType}


def test_every_problem_type_is_in_the_openapi_document(client: FlaskClient) -> None:
    problem = client.get("/api/openapi.json").json["components"]["schemas"]["Problem"]
    type_member = problem["properties"]["type"]

    assert type_member["enum"] == [kind.uri for kind in ProblemType] + ["about:blank"]
    for kind in ProblemType:
        assert f"`{kind.uri}` ({kind.status}): {kind.meaning}" in type_member["description"]
    assert set(problem["required"]) == {"type", "title", "status", "request_id"}


def test_problem_type_uris_are_unique_absolute_and_stable_in_form() -> None:
    uris = [kind.uri for kind in ProblemType]

    assert len(set(uris)) == len(uris)
    assert all(re.fullmatch(r"tag:doable\.dev,2026:problems/[a-z]+(-[a-z]+)*", u) for u in uris)


# --- rate limits ----------------------------------------------------------------------


def test_login_over_rate_limit_returns_429_problem_with_retry_after(limited_app: Flask) -> None:
    client = limited_app.test_client()
    _bad_login(client)
    _bad_login(client)

    response = _bad_login(client)

    _assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    _assert_security_headers(response)


def test_register_over_rate_limit_returns_429_and_stores_nothing(limited_app: Flask) -> None:
    client = limited_app.test_client()
    _bad_login(client)
    _bad_login(client)

    response = client.post("/api/register", json=USER)

    _assert_problem(response, 429)
    assert _user_count(limited_app) == 0


def test_register_under_rate_limit_carries_rate_limit_headers_but_no_retry_after(
    limited_app: Flask,
) -> None:
    response = limited_app.test_client().post("/api/register", json=USER)

    assert response.status_code == 201
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert response.headers["X-RateLimit-Remaining"] == "1"
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert "Retry-After" not in response.headers
    assert _user_count(limited_app) == 1


def test_login_under_rate_limit_carries_rate_limit_headers_but_no_retry_after(
    limited_app: Flask,
) -> None:
    client = limited_app.test_client()
    client.post("/api/register", json=USER, environ_base={"REMOTE_ADDR": "10.0.0.9"})

    response = client.post("/api/login", json={"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "1"
    assert "Retry-After" not in response.headers


def test_rate_limit_from_one_address_does_not_limit_another(limited_app: Flask) -> None:
    client = limited_app.test_client()
    for _ in range(3):
        _bad_login(client, "10.0.0.1")

    response = _bad_login(client, "10.0.0.2")

    assert response.status_code == 401
    assert response.headers["X-RateLimit-Remaining"] == "1"


def test_rate_limit_disabled_never_returns_429(client: FlaskClient) -> None:
    statuses = {_bad_login(client).status_code for _ in range(12)}

    assert statuses == {401}


def test_each_request_logs_one_json_access_line_in_production(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(ENV="production")
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    capsys.readouterr()

    api.get("/api/me", alice.token, headers={"X-Request-Id": "trace-access-1"})
    api.get("/api/tasks/999", alice.token, headers={"X-Request-Id": "trace-access-2"})

    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = [r for r in records if r["logger"] == "doable.access"]
    assert [(r["request_id"], r["method"], r["path"], r["status"]) for r in access] == [
        ("trace-access-1", "GET", "/api/me", 200),
        ("trace-access-2", "GET", "/api/tasks/999", 404),
    ]
    assert all(r["user_id"] == alice.id for r in access)
    assert all(isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0 for r in access)
