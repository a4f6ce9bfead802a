"""Documentation and operations (docs/api.md, Operations): health, readiness, OpenAPI
and Swagger UI."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from doable import create_app
from doable.auth.schemas import UserCreate
from doable.extensions import db
from tests.conftest import base_config
from tests.support.factories import PROBLEM_JSON

UNREACHABLE_POSTGRES = "postgresql+psycopg://nobody@127.0.0.1:1/none"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
# Routes that serve the documentation itself rather than being documented in it.
DOCS_ENDPOINTS = {
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
    "swagger_ui.swagger_ui_asset",
}
PROBLEM_FIELDS = {"type", "title", "status", "detail", "request_id"}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
# OpenAPI keywords whose value may legitimately be JSON null.
NULL_ALLOWED = {"example", "default", "const", "enum", "examples"}
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_SCRIPT = re.compile(rb"<script(\s[^>]*)?>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
_ASSET_URL = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)


def _openapi_path(rule: str) -> str:
    """``/api/tasks/<int:task_id>`` -> ``/api/tasks/{task_id}``."""
    return _RULE_ARGUMENT.sub(r"{\1}", rule)


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _effective_security(spec: dict[str, Any], operation: dict[str, Any]) -> list[Any]:
    return operation.get("security", spec.get("security", []))


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = spec["components"][section][name]
    return node


def _request_schema(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The body's schema, whatever its one content type (JSON, or multipart for uploads)."""
    (content,) = spec["paths"][path][method]["requestBody"]["content"].values()
    return _resolve(spec, content["schema"])


def _nulls(node: Any, where: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if value is None and key not in NULL_ALLOWED:
                yield f"{where}/{key}"
            elif key not in NULL_ALLOWED:
                yield from _nulls(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nulls(value, f"{where}/{index}")


@pytest.fixture
def docs_page(client: FlaskClient) -> Any:
    response = client.get("/api/docs")
    assert response.status_code == 200
    return response


# --- health and readiness -------------------------------------------------------------


def test_healthz_returns_200(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["X-Request-Id"]


def test_healthz_with_unreachable_database_still_returns_200(tmp_path: Path) -> None:
    app = create_app(base_config(UNREACHABLE_POSTGRES, tmp_path))

    response = app.test_client().get("/healthz")

    assert response.status_code == 200


def test_readyz_with_database_up_returns_200(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["checks"] == {"database": "ok"}


def test_readyz_with_unreachable_database_returns_503(tmp_path: Path) -> None:
    app = create_app(base_config(UNREACHABLE_POSTGRES, tmp_path))

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"]["database"] != "ok"
    assert response.json["status"] != "ok"
    with app.app_context():
        db.engine.dispose()


def test_readyz_with_unreachable_redis_returns_503(make_app: Callable[..., Flask]) -> None:
    app = make_app(REDIS_URL=UNREACHABLE_REDIS)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"] != "ok"


def test_readyz_with_redis_up_returns_200_with_redis_check(
    make_app: Callable[..., Flask], redis_url: str
) -> None:
    app = make_app(REDIS_URL=redis_url)

    response = app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_flood_reuses_one_redis_connection_and_one_check_a_second(
    make_app: Callable[..., Flask], redis_url: str, redis_prefix: str
) -> None:
    app = make_app(REDIS_URL=redis_url, REDIS_PREFIX=redis_prefix)
    client = app.test_client()
    selects: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        selects.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", record)
    first = client.get("/readyz")
    ours_after_one = _redis_clients(redis_url, f"{redis_prefix}:app")
    answers = [client.get("/readyz") for _ in range(50)]
    ours_after_all = _redis_clients(redis_url, f"{redis_prefix}:app")
    with app.app_context():
        sa.event.remove(db.engine, "before_cursor_execute", record)

    assert first.status_code == 200
    assert {(r.status_code, r.json["checks"]["redis"]) for r in answers} == {(200, "ok")}
    assert len(ours_after_one) == 1  # one pooled connection, kept open...
    assert ours_after_all == ours_after_one  # ...and the same one after 50 more calls
    # 51 calls well within a second of each other: the database was asked once
    assert len([s for s in selects if s.strip().upper() == "SELECT 1"]) == 1


def _redis_clients(redis_url: str, name: str) -> list[str]:
    """The ids of the connections to Redis named ``name``."""
    with redis.Redis.from_url(redis_url) as admin:
        clients = admin.client_list()
    return [c["id"] for c in clients if c["name"] == name]


def test_readyz_with_unreachable_database_leaves_no_secrets_in_body(tmp_path: Path) -> None:
    app = create_app(base_config("postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none", tmp_path))

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "hunter2" not in text
    assert "Traceback" not in text
    with app.app_context():
        db.engine.dispose()


# --- the OpenAPI document -------------------------------------------------------------


def test_openapi_json_is_openapi_3_1(client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json["openapi"].startswith("3.1.")
    assert response.json["info"]["title"] == "Doable"


def test_openapi_lists_every_api_route_and_method(app: Flask, spec: dict[str, Any]) -> None:
    expected = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.endpoint not in DOCS_ENDPOINTS
        for method in rule.methods or ()
        if method.lower() in HTTP_METHODS
    }
    documented = {(path, method) for path, method, _ in _operations(spec)}

    assert expected
    assert expected - documented == set()


def test_openapi_documents_no_route_that_does_not_exist(app: Flask, spec: dict[str, Any]) -> None:
    routes = {_openapi_path(rule.rule) for rule in app.url_map.iter_rules()}

    assert set(spec["paths"]) - routes == set()


def test_openapi_declares_bearer_auth_scheme(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]

    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


@pytest.mark.parametrize(
    ("path", "method"),
    [("/api/me", "get"), ("/api/me", "patch"), ("/api/me", "delete"), ("/api/logout", "post")],
)
def test_openapi_protected_operation_declares_bearer_security(
    spec: dict[str, Any], path: str, method: str
) -> None:
    operation = spec["paths"][path][method]

    assert _effective_security(spec, operation) == [{"bearerAuth": []}]
    assert "401" in operation["responses"]


@pytest.mark.parametrize(
    ("path", "method"),
    [("/api/register", "post"), ("/api/login", "post"), ("/api/token/refresh", "post")],
)
def test_openapi_public_operation_declares_no_security(
    spec: dict[str, Any], path: str, method: str
) -> None:
    operation = spec["paths"][path][method]

    assert _effective_security(spec, operation) == []


def test_openapi_security_matches_which_routes_refuse_a_missing_token(
    client: FlaskClient, spec: dict[str, Any]
) -> None:
    mismatched = []
    for path, method, operation in _operations(spec):
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = client.open(url, method=method.upper(), json={})
        declared = bool(_effective_security(spec, operation))
        if declared != (response.status_code == 401):
            mismatched.append((method.upper(), path, response.status_code, declared))

    assert mismatched == []


def test_openapi_register_body_is_the_schema_that_validates(
    client: FlaskClient, spec: dict[str, Any]
) -> None:
    schema = _request_schema(spec, "/api/register", "post")

    response = client.post("/api/register", json={})

    assert set(schema["required"]) == {"username", "email", "password"}
    assert set(schema["properties"]) == set(UserCreate().fields)
    assert response.status_code == 400
    assert set(response.json["errors"]) == set(schema["required"])


def test_openapi_register_body_documents_the_username_rules(spec: dict[str, Any]) -> None:
    username = _request_schema(spec, "/api/register", "post")["properties"]["username"]

    assert username.get("minLength") == 3
    assert username.get("maxLength") == 32
    assert "pattern" in username


def test_openapi_request_bodies_reject_unknown_fields(spec: dict[str, Any]) -> None:
    open_bodies = []
    for path, method, operation in _operations(spec):
        if "requestBody" in operation:
            schema = _request_schema(spec, path, method)
            if schema.get("additionalProperties") is not False:
                open_bodies.append((method, path))

    assert open_bodies == []


def test_openapi_error_responses_are_problem_documents(spec: dict[str, Any]) -> None:
    wrong = []
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status == "default" or int(status) >= 400:
                content = _resolve(spec, response).get("content", {})
                schema = _resolve(spec, content.get(PROBLEM_JSON, {}).get("schema", {}))
                documented_fields = set(schema.get("properties", {}))
                if sorted(content) != [PROBLEM_JSON] or not documented_fields >= PROBLEM_FIELDS:
                    wrong.append((method, path, status, sorted(content)))

    assert wrong == []


def test_openapi_document_has_no_null_keyword_values(spec: dict[str, Any]) -> None:
    assert list(_nulls(spec)) == []


# --- Swagger UI, served locally -------------------------------------------------------


def test_docs_returns_html_page(docs_page: Any) -> None:
    assert docs_page.mimetype == "text/html"
    assert b"/api/openapi.json" in docs_page.get_data()


def test_docs_loads_only_local_assets(docs_page: Any) -> None:
    urls = _ASSET_URL.findall(docs_page.get_data(as_text=True))

    assert urls
    assert [url for url in urls if not url.startswith("/") or url.startswith("//")] == []


def test_docs_csp_has_no_unsafe_inline(docs_page: Any) -> None:
    csp = docs_page.headers["Content-Security-Policy"]

    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors" in csp


def test_docs_csp_allows_each_inline_script_by_hash(docs_page: Any) -> None:
    csp = docs_page.headers["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    inline = [
        body
        for attributes, body in _SCRIPT.findall(docs_page.get_data())
        if b"src=" not in attributes
    ]

    assert inline
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        assert f"'sha256-{digest}'" in script_src.split()


def test_docs_referenced_assets_are_served(client: FlaskClient, docs_page: Any) -> None:
    urls = _ASSET_URL.findall(docs_page.get_data(as_text=True))

    statuses = {}
    for url in urls:
        with client.get(url) as response:  # closes the streamed file
            statuses[url] = response.status_code

    assert statuses
    assert set(statuses.values()) == {200}


@pytest.mark.parametrize(
    ("asset", "mimetype"),
    [
        ("swagger-ui-bundle.js", {"text/javascript", "application/javascript"}),
        ("swagger-ui.css", {"text/css"}),
    ],
)
def test_docs_asset_is_served_with_its_type(
    client: FlaskClient, asset: str, mimetype: set[str]
) -> None:
    with client.get(f"/api/docs/assets/{asset}") as response:  # closes the streamed file
        body = response.get_data()

    assert response.status_code == 200
    assert response.mimetype in mimetype
    assert len(body) > 1000
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", ["../__init__.py", "..%2f__init__.py", "missing.js"])
def test_docs_asset_outside_the_dist_folder_returns_404(client: FlaskClient, name: str) -> None:
    response = client.get(f"/api/docs/assets/{name}")

    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
