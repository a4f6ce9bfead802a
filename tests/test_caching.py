"""What browsers and proxies may keep: nothing private (pages of a web login, tokens, API
answers, downloads), while static files, the API's documentation and the probes stay
cacheable."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.factories import PASSWORD, Account, ApiClient


def test_api_answers_for_a_user_are_no_store(api: ApiClient, alice: Account) -> None:
    created = api.post("/api/tasks", alice.token, json={"title": "Private"})
    task_id = created.json["id"]

    answers = {
        "create": created,
        "me": api.get("/api/me", alice.token),
        "list": api.get("/api/tasks", alice.token),
        "read": api.get(f"/api/tasks/{task_id}", alice.token),
        "categories": api.get("/api/categories", alice.token),
        "not found": api.get("/api/tasks/999", alice.token),
    }

    assert {name: r.headers.get("Cache-Control") for name, r in answers.items()} == dict.fromkeys(
        answers, "no-store"
    )
    assert answers["read"].json["title"] == "Private"


def test_token_answers_are_no_store(api: ApiClient) -> None:
    registered = api.register("alice")
    logged_in = api.login(username="alice", password=PASSWORD)
    refresh_token = logged_in.json["refresh_token"]
    refreshed = api.post("/api/token/refresh", json={"refresh_token": refresh_token})

    assert [r.status_code for r in (registered, logged_in, refreshed)] == [201, 200, 200]
    assert refreshed.json["token"] != logged_in.json["token"]
    assert [r.headers.get("Cache-Control") for r in (registered, logged_in, refreshed)] == [
        "no-store"
    ] * 3


def test_a_task_read_again_is_304_and_still_no_store(api: ApiClient, alice: Account) -> None:
    task_id = api.post("/api/tasks", alice.token, json={"title": "Same"}).json["id"]
    first = api.get(f"/api/tasks/{task_id}", alice.token)

    again = api.get(
        f"/api/tasks/{task_id}", alice.token, headers={"If-None-Match": first.headers["ETag"]}
    )

    assert again.status_code == 304
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "no-store"


def test_an_attachment_download_is_no_store(api: ApiClient, alice: Account) -> None:
    task_id = api.post("/api/tasks", alice.token, json={"title": "With a file"}).json["id"]
    uploaded = api.post(
        f"/api/tasks/{task_id}/attachments",
        alice.token,
        data={"file": (io.BytesIO(b"secret notes"), "notes.txt", "text/plain")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json

    with api.get(
        f"/api/tasks/{task_id}/attachments/{uploaded.json['id']}", alice.token
    ) as download:
        body = download.get_data()

    assert download.status_code == 200
    assert body == b"secret notes"
    assert download.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/static/style.css",
        "/api/openapi.json",
        "/api/docs",
        "/api/docs/assets/swagger-ui.css",
        "/healthz",
        "/readyz",
    ],
)
def test_public_answers_stay_cacheable(client: FlaskClient, path: str) -> None:
    with client.get(path) as response:
        cache_control = response.headers.get("Cache-Control", "")

    assert response.status_code == 200
    assert "no-store" not in cache_control
    assert "Set-Cookie" not in response.headers


def test_static_files_keep_their_own_max_age(app: Flask, client: FlaskClient) -> None:
    with client.get("/api/docs/assets/swagger-ui.css") as response:
        cache_control = response.headers["Cache-Control"]

    assert response.status_code == 200
    assert "max-age=86400" in cache_control
