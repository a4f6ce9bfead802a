"""Regression tests for what schemathesis found (tests/test_fuzz.py runs it in CI).

Each finding is written down here before it was fixed: either the API misbehaved, or
the OpenAPI document promised less (or more) than the API enforces.
"""

from __future__ import annotations

import io
import re

import pytest

from doable.errors import ProblemType
from tests.support.factories import ApiClient, assert_problem, stored_task


def test_a_body_sent_to_no_route_is_404_not_415(api: ApiClient, alice):
    """An id too long to be one matches no route; the body's type must not matter."""
    response = api.post(
        "/api/tasks/906024667838/attachments",
        alice.token,
        data={"file": (io.BytesIO(b"x"), "a.txt")},
        content_type="multipart/form-data",
    )
    assert_problem(response, 404)


def test_a_method_the_route_lacks_is_405_with_allow_not_415(api: ApiClient, alice):
    task = api.post("/api/tasks", alice.token, json={"title": "t"}).json
    response = api.client.put(
        f"/api/tasks/{task['id']}/attachments",
        headers={"Authorization": f"Bearer {alice.token}"},
        data={"file": (io.BytesIO(b"x"), "a.txt")},
        content_type="multipart/form-data",
    )
    assert_problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_an_upload_with_other_form_fields_is_refused_and_stores_nothing(app, api: ApiClient, alice):
    task = api.post("/api/tasks", alice.token, json={"title": "t"}).json
    response = api.post(
        f"/api/tasks/{task['id']}/attachments",
        alice.token,
        data={"file": (io.BytesIO(b"data"), "a.txt"), "owner_id": "2"},
        content_type="multipart/form-data",
    )
    body = assert_problem(response, 400)
    assert body["errors"] == {"owner_id": ["Unknown field."]}
    listed = api.get(f"/api/tasks/{task['id']}/attachments", alice.token).json
    assert listed["attachments"] == []


def test_a_file_sent_as_a_plain_field_is_refused(api: ApiClient, alice):
    task = api.post("/api/tasks", alice.token, json={"title": "t"}).json
    response = api.post(
        f"/api/tasks/{task['id']}/attachments",
        alice.token,
        data={"file": "not a file"},
        content_type="multipart/form-data",
    )
    assert "file" in assert_problem(response, 400)["errors"]


@pytest.fixture
def spec(api: ApiClient) -> dict:
    return api.client.get("/api/openapi.json").json  # type: ignore[no-any-return]


EXACTLY_ONE_USER_REFERENCE = {
    "if": {"required": ["username"]},
    "then": {"not": {"required": ["email"]}},
    "else": {"required": ["email"]},
}


@pytest.mark.parametrize(
    ("component", "rule"),
    [
        ("LoginRequest", EXACTLY_ONE_USER_REFERENCE),
        ("ShareCreate", EXACTLY_ONE_USER_REFERENCE),
        (
            "UserUpdate",
            {"if": {"not": {"required": ["email"]}}, "then": {"required": ["password"]}},
        ),
        ("TaskUpdate", {"minProperties": 1}),
        ("CategoryUpdate", {"minProperties": 1}),
    ],
)
def test_the_document_states_each_rule_across_fields(spec, component, rule):
    schema = spec["components"]["schemas"][component]
    assert {key: schema[key] for key in rule} == rule


SAMPLES = [
    "Work",
    "Été",
    " padded ",
    " ",
    "",
    "a\tb",
    "a\nb",
    "a\n",
    "x\u0085",
    "\u00a0",
    "a\u202eb",
    "zero\u200bwidth",
    "soft\u00adhyphen",
    "\ufeffbom",
    "日本語",
    "a" * 50,
]


@pytest.mark.parametrize("name", SAMPLES)
def test_a_category_name_is_accepted_exactly_when_the_documented_pattern_matches(
    spec, api: ApiClient, alice, name
):
    field = spec["components"]["schemas"]["CategoryCreate"]["properties"]["name"]
    documented = (
        field["minLength"] <= len(name) <= field["maxLength"]
        and re.search(field["pattern"], name) is not None  # JSON Schema: search semantics
    )
    response = api.post("/api/categories", alice.token, json={"name": name})
    assert (response.status_code == 201) == documented, response.json


@pytest.mark.parametrize("title", ["Plan", " x ", " ", "\t\n", "line\nbreak", "\u3000"])
def test_a_title_is_accepted_exactly_when_the_documented_pattern_matches(
    spec, api: ApiClient, alice, title
):
    field = spec["components"]["schemas"]["TaskCreate"]["properties"]["title"]
    documented = re.search(field["pattern"], title) is not None
    response = api.post("/api/tasks", alice.token, json={"title": title})
    assert (response.status_code == 201) == documented, response.json


def test_a_url_too_long_is_a_414_problem_not_gunicorn_s_html_page(api: ApiClient, alice):
    """Repeated query parameters made a 7,650-character URL; gunicorn answered it with
    an HTML 414 of its own. Doable now takes request lines up to gunicorn's maximum and
    refuses URLs over DOABLE_MAX_URL_LENGTH itself."""
    response = api.get("/api/tasks?" + "&".join(["page=1"] * 800), alice.token)
    body = assert_problem(response, 414)
    assert "at most 4096" in body["detail"]
    assert api.get("/api/tasks?" + "&".join(["page=1"] * 2), alice.token).status_code == 400


@pytest.mark.parametrize("sent", ["", '"not-the-etag"'])
def test_an_if_match_that_is_empty_or_stale_is_412_and_changes_nothing(
    app, api: ApiClient, alice, sent
):
    """With If-Match declared, schemathesis sent an empty one: no listed ETag is current,
    so the condition is false (412), rather than the header being taken as absent."""
    task = api.post("/api/tasks", alice.token, json={"title": "before"}).json
    response = api.patch(
        f"/api/tasks/{task['id']}", alice.token, json={"title": "after"}, headers={"If-Match": sent}
    )
    assert assert_problem(response, 412)["type"] == ProblemType.PRECONDITION_FAILED.uri
    assert stored_task(app, task["id"])["title"] == "before"
