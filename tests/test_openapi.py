"""The OpenAPI document as generated clients, linters and fuzzers read it: every
operation named and secured, every header and status a route honours or answers
declared, bodies typed, response fields required, and Redocly finding no error."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from doable.auth.schemas import PREFERENCES
from doable.tasks.schemas import TaskListQuery
from tests.conftest import service_missing
from tests.support.factories import Account, ApiClient, assert_problem

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
BODY_METHODS = {"put", "post", "delete", "patch"}
JS = Path(__file__).resolve().parent / "js"
REDOCLY = JS / "node_modules" / ".bin" / "redocly"
TASK = "/api/tasks/{task_id}"
DOWNLOAD = "/api/tasks/{task_id}/attachments/{attachment_id}"


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return spec["components"]["schemas"][name]  # type: ignore[no-any-return]


def _headers(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def _get_closed(api: ApiClient, url: str, token: str, **kwargs: Any) -> Any:
    """A download, read and closed (its file is streamed)."""
    response = api.get(url, token, **kwargs)
    response.get_data()
    response.close()
    return response


def _task(api: ApiClient, account: Account) -> dict[str, Any]:
    return api.post("/api/tasks", account.token, json={"title": "t"}).json  # type: ignore[no-any-return]


# --- names and security ---------------------------------------------------------------


def test_every_operation_has_a_unique_camel_case_operation_id(spec: dict[str, Any]) -> None:
    ids = [operation.get("operationId", "") for _, _, operation in _operations(spec)]

    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", i) for i in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("path", "method", "operation_id"),
    [
        ("/api/tasks", "get", "listTasks"),
        (TASK, "get", "getTask"),
        (TASK, "patch", "updateTask"),
        (TASK, "put", "updateTaskPut"),
        ("/api/tasks/{task_id}/share", "post", "shareTask"),
        ("/api/me", "get", "readMe"),
        (DOWNLOAD, "get", "downloadAttachment"),
    ],
)
def test_operation_id_is_the_view_name_in_camel_case(
    spec: dict[str, Any], path: str, method: str, operation_id: str
) -> None:
    assert spec["paths"][path][method]["operationId"] == operation_id


@pytest.mark.parametrize("path", ["/api/register", "/api/login", "/api/token/refresh"])
def test_public_operation_says_it_needs_no_security(spec: dict[str, Any], path: str) -> None:
    assert spec["paths"][path]["post"]["security"] == []


# --- conditional requests -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "header"),
    [
        (TASK, "get", "If-None-Match"),
        (TASK, "put", "If-Match"),
        (TASK, "patch", "If-Match"),
        (TASK, "delete", "If-Match"),
        (DOWNLOAD, "get", "If-None-Match"),
    ],
)
def test_conditional_header_is_declared_where_honoured(
    spec: dict[str, Any], path: str, method: str, header: str
) -> None:
    assert header in _headers(spec["paths"][path][method])


def test_download_with_current_etag_answers_the_documented_304(
    spec: dict[str, Any], api: ApiClient, alice: Account
) -> None:
    task = _task(api, alice)
    data = {"file": (io.BytesIO(b"hello"), "a.txt", "text/plain")}
    sent = api.post(f"/api/tasks/{task['id']}/attachments", alice.token, data=data)
    url = sent.headers["Location"]
    etag = _get_closed(api, url, alice.token).headers["ETag"]

    again = _get_closed(api, url, alice.token, headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert "304" in spec["paths"][DOWNLOAD]["get"]["responses"]


# --- bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "fields"),
    [
        ("LoginCreate", {"username", "email", "password"}),
        ("ShareCreate", {"username", "email", "permission"}),
        (
            "UserUpdate",
            {"email", "password", "revoke_api_tokens", "current_password", *PREFERENCES},
        ),
    ],
)
def test_body_is_a_typed_object_not_an_untyped_union(
    spec: dict[str, Any], component: str, fields: set[str]
) -> None:
    """A body with ``oneOf``/``anyOf`` at its top is generated as ``Any``."""
    schema = _schema(spec, component)

    assert schema["type"] == "object"
    assert set(schema["properties"]) == fields
    assert {"oneOf", "anyOf", "allOf"} & set(schema) == set()


def test_no_request_body_is_a_union_at_its_top(spec: dict[str, Any]) -> None:
    unions = []
    for path, method, operation in _operations(spec):
        for content in operation.get("requestBody", {}).get("content", {}).values():
            ref = content["schema"].get("$ref", "")
            schema = _schema(spec, ref.rsplit("/", 1)[-1]) if ref else content["schema"]
            if {"oneOf", "anyOf", "allOf"} & set(schema):
                unions.append((method, path))

    assert unions == []


@pytest.mark.parametrize(
    ("component", "path", "body"),
    [
        (
            "LoginCreate",
            "/api/login",
            {"username": "a", "email": "a@example.com", "password": "x"},
        ),
        ("LoginCreate", "/api/login", {"password": "x"}),
        ("LoginCreate", "/api/login", {"username": "nobody", "password": "x"}),
        ("LoginCreate", "/api/login", {"email": "nobody@example.com", "password": "x"}),
        ("UserUpdate", "/api/me", {"current_password": "x"}),
        ("UserUpdate", "/api/me", {"current_password": "x", "revoke_api_tokens": True}),
        ("UserUpdate", "/api/me", {}),
        ("UserUpdate", "/api/me", {"current_password": "x", "timezone": "UTC"}),
        ("UserUpdate", "/api/me", {"current_password": "x", "email": "new@example.com"}),
        ("UserUpdate", "/api/me", {"current_password": "x", "password": "a-new-password"}),
    ],
)
def test_body_is_valid_by_the_document_exactly_when_the_api_accepts_its_shape(
    spec: dict[str, Any], api: ApiClient, alice: Account, component: str, path: str, body: Any
) -> None:
    """The rule across fields, stated without a union, is still the one enforced (a
    wrong password is a 400 or 401 naming it, not the body's shape)."""
    valid = jsonschema_rs.validator_for(_schema(spec, component)).is_valid(body)
    send = api.post if path == "/api/login" else api.patch

    response = send(path, alice.token, json=body)

    assert response.status_code in (400, 401)
    assert (set(response.json.get("errors", {})) & {"body", "username", "email"} == set()) == valid


# --- responses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "component",
    [
        "TaskRead",
        "OwnerRead",
        "TaskPage",
        "UserRead",
        "TokenRead",
        "CategoryRead",
        "SyncRead",
        "HistoryPage",
        "HistoryEntryRead",
    ],
)
def test_response_schema_requires_every_field(spec: dict[str, Any], component: str) -> None:
    schema = _schema(spec, component)

    assert sorted(schema["required"]) == sorted(schema["properties"])


def test_responses_carry_every_required_field(
    spec: dict[str, Any], api: ApiClient, alice: Account
) -> None:
    task = _task(api, alice)
    me = api.get("/api/me", alice.token).json
    category = api.post("/api/categories", alice.token, json={"name": "Work"}).json

    assert set(task) == set(_schema(spec, "TaskRead")["required"])
    assert set(me) == set(_schema(spec, "UserRead")["required"])
    assert set(category) == set(_schema(spec, "CategoryRead")["required"])


def test_sync_and_history_answers_carry_every_required_field(
    spec: dict[str, Any], api: ApiClient, alice: Account
) -> None:
    task = api.post("/api/tasks", alice.token, json={"title": "t", "categories": ["Work"]}).json
    sync = api.get("/api/sync", alice.token).json
    history = api.get(f"/api/tasks/{task['id']}/history", alice.token).json
    operations = spec["paths"]

    assert set(sync) == set(_schema(spec, "SyncRead")["required"])
    assert set(history) == set(_schema(spec, "HistoryPage")["required"])
    assert set(history["changes"][0]) == set(_schema(spec, "HistoryEntryRead")["required"])
    gone = api.get("/api/sync?since=999", alice.token)
    documented = operations["/api/sync"]["get"]["responses"]["410"]["content"]
    schema = documented["application/problem+json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(_schema(spec, schema)["required"]) <= set(gone.json)
    assert set(gone.json) <= set(_schema(spec, schema)["properties"])
    assert "404" in operations[f"{TASK}/history"]["get"]["responses"]


@pytest.mark.parametrize(
    ("declared", "sent"),
    [("image/png", "image/png"), ("text/html", "application/octet-stream")],
)
def test_download_is_sent_as_a_documented_content_type(
    spec: dict[str, Any], api: ApiClient, alice: Account, declared: str, sent: str
) -> None:
    task = _task(api, alice)
    data = {"file": (io.BytesIO(b"bytes"), "f", declared)}
    url = api.post(f"/api/tasks/{task['id']}/attachments", alice.token, data=data).location

    response = _get_closed(api, url, alice.token)

    assert response.mimetype == sent
    assert sent in spec["paths"][DOWNLOAD]["get"]["responses"]["200"]["content"]


# --- statuses -------------------------------------------------------------------------


def test_every_operation_documents_414_and_every_body_method_415(spec: dict[str, Any]) -> None:
    missing = []
    for path, method, operation in _operations(spec):
        wanted = {"414"} | ({"415"} if method in BODY_METHODS else set())
        missing += [(method, path, s) for s in wanted - set(operation["responses"])]

    assert missing == []


def test_a_body_of_the_wrong_type_on_a_delete_is_the_documented_415(
    api: ApiClient, alice: Account
) -> None:
    task = _task(api, alice)

    response = api.delete(
        f"/api/tasks/{task['id']}", alice.token, data="x", content_type="text/plain"
    )

    assert_problem(response, 415)
    assert api.get(f"/api/tasks/{task['id']}", alice.token).status_code == 200


def test_a_url_too_long_on_any_route_is_the_documented_414(api: ApiClient, alice: Account) -> None:
    response = api.get("/api/me?" + "x" * 5000, alice.token)

    assert_problem(response, 414)


@pytest.mark.parametrize(
    ("path", "method"),
    [("/api/tasks", "post"), ("/api/login", "post"), ("/api/tasks/{task_id}/share", "post")],
)
def test_bad_text_in_a_body_is_the_documented_400(
    spec: dict[str, Any], path: str, method: str
) -> None:
    """NUL or a lone surrogate in any field is refused with 400 wherever input is read."""
    assert "400" in spec["paths"][path][method]["responses"]


def test_upload_documents_the_400_of_an_empty_file(spec: dict[str, Any]) -> None:
    assert "400" in spec["paths"]["/api/tasks/{task_id}/attachments"]["post"]["responses"]


def test_q_documents_the_400_when_no_word_is_left_to_find(spec: dict[str, Any]) -> None:
    (q,) = [p for p in spec["paths"]["/api/tasks"]["get"]["parameters"] if p["name"] == "q"]

    assert "400" in q["description"]
    assert "errors.q" in q["description"]
    assert q["description"] == TaskListQuery().fields["q"].metadata["description"]


# --- Redocly --------------------------------------------------------------------------


def test_redocly_lint_finds_no_error(spec: dict[str, Any], tmp_path: Path) -> None:
    if shutil.which("node") is None:
        service_missing("Node.js is not installed (Redocly needs node)")
    if not REDOCLY.exists():
        service_missing("@redocly/cli is not installed in tests/js: run npm ci --prefix tests/js")
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(spec))

    done = subprocess.run(
        [str(REDOCLY), "lint", str(document), "--format=json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "CI": "true", "REDOCLY_TELEMETRY": "off", "NO_UPDATE_NOTIFIER": "1"},
    )
    report = json.loads(done.stdout)

    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert errors == [], errors
    assert done.returncode == 0, done.stderr


EXACTLY_ONE_USER_REFERENCE = {
    "if": {"required": ["username"]},
    "then": {"not": {"required": ["email"]}},
    "else": {"required": ["email"]},
}


# Found by schemathesis (tests/test_fuzz.py).
@pytest.mark.parametrize(
    ("component", "rule"),
    [
        ("LoginCreate", EXACTLY_ONE_USER_REFERENCE),
        ("ShareCreate", EXACTLY_ONE_USER_REFERENCE),
        (
            "UserUpdate",
            {"not": {"propertyNames": {"enum": ["current_password", "revoke_api_tokens"]}}},
        ),
        (
            "UserUpdate",
            {
                "dependentRequired": {
                    "email": ["current_password"],
                    "password": ["current_password"],
                    "revoke_api_tokens": ["password"],
                }
            },
        ),
        ("TaskUpdate", {"minProperties": 1}),
        ("CategoryUpdate", {"minProperties": 1}),
    ],
)
def test_the_document_states_each_rule_across_fields(spec, component, rule):
    schema = spec["components"]["schemas"][component]
    assert {key: schema[key] for key in rule} == rule
