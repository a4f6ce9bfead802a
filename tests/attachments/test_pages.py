"""Attachments from a task's page: upload, download, delete."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.attachments.models import Attachment
from doable.extensions import db
from tests.support.attachments import MULTIPART, part_head
from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser, field_errors


def _files(app: Flask) -> list[tuple[int, str, int]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(Attachment.task_id, Attachment.filename, Attachment.size)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.fixture
def task_id(api: ApiClient, alice: Account) -> int:
    return int(api.post("/api/tasks", alice.token, json={"title": "With files"}).json["id"])


def _upload(browser: Browser, task_id: int, data: bytes, name: str = "notes.txt") -> object:
    return browser.post(
        f"/tasks/{task_id}/attachments",
        {"upload-file": (io.BytesIO(data), name, "text/plain")},
        content_type="multipart/form-data",
    )


def test_upload_stores_the_file_and_lists_it(
    app: Flask, browse: Callable[..., Browser], alice: Account, task_id: int
) -> None:
    browser = browse(alice)

    response = _upload(browser, task_id, b"hello\n")

    assert response.status_code == 302  # type: ignore[attr-defined]
    assert _files(app) == [(task_id, "notes.txt", 6)]
    page = browser.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert f'href="/tasks/{task_id}/attachments/1"' in page
    assert "Attached “notes.txt”." in page


def test_download_returns_the_bytes_with_the_safe_headers(
    browse: Callable[..., Browser], alice: Account, task_id: int
) -> None:
    browser = browse(alice)
    _upload(browser, task_id, b"<html><script>alert(1)</script>", name="page.html")

    with browser.get(f"/tasks/{task_id}/attachments/1") as response:
        assert response.status_code == 200
        assert response.get_data() == b"<html><script>alert(1)</script>"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="page.html"')
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response.mimetype == "text/plain"


def test_download_by_view_sharee_works_and_by_stranger_is_404(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account, carol: Account,
    task_id: int,
) -> None:  # fmt: skip
    _upload(browse(alice), task_id, b"data")
    api.post(
        f"/api/tasks/{task_id}/share", alice.token, json={"username": "bob", "permission": "view"}
    )

    with browse(bob).get(f"/tasks/{task_id}/attachments/1") as response:
        assert response.get_data() == b"data"
    assert browse(carol).get(f"/tasks/{task_id}/attachments/1").status_code == 404


def test_upload_empty_file_shows_error_by_the_field(
    app: Flask, browse: Callable[..., Browser], alice: Account, task_id: int
) -> None:
    response = _upload(browse(alice), task_id, b"")

    assert response.status_code == 400  # type: ignore[attr-defined]
    assert field_errors(response, "upload-file") == ["The file is empty."]  # type: ignore[arg-type]
    assert _files(app) == []


def test_upload_without_a_file_shows_error_by_the_field(
    app: Flask, browse: Callable[..., Browser], alice: Account, task_id: int
) -> None:
    response = browse(alice).post(f"/tasks/{task_id}/attachments", {})

    assert response.status_code == 400
    assert field_errors(response, "upload-file") == ["Missing data for required field."]


def test_upload_over_the_limit_shows_error_by_the_field(
    make_app: Callable[..., Flask], alice: Account
) -> None:
    app = make_app(MAX_UPLOAD_SIZE=10)
    api = ApiClient(app.test_client())
    account = api.account("dora")
    task_id = api.post("/api/tasks", account.token, json={"title": "T"}).json["id"]
    browser = Browser(app.test_client())
    browser.login(account)

    response = _upload(browser, task_id, b"x" * 11)

    assert response.status_code == 413  # type: ignore[attr-defined]
    assert field_errors(response, "upload-file") == [  # type: ignore[arg-type]
        "The file is larger than the limit of 10 bytes"
    ]
    assert _files(app) == []


def test_upload_by_view_sharee_is_a_403_page(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    task_id: int,
) -> None:  # fmt: skip
    api.post(
        f"/api/tasks/{task_id}/share", alice.token, json={"username": "bob", "permission": "view"}
    )

    response = _upload(browse(bob), task_id, b"data")

    assert response.status_code == 403  # type: ignore[attr-defined]
    assert _files(app) == []


def test_delete_attachment_asks_then_deletes(
    app: Flask, browse: Callable[..., Browser], alice: Account, task_id: int
) -> None:
    browser = browse(alice)
    _upload(browser, task_id, b"data")

    question = browser.get(f"/tasks/{task_id}/attachments/1/delete")
    response = browser.post(f"/tasks/{task_id}/attachments/1/delete")

    assert "Delete the file “notes.txt”?" in question.get_data(as_text=True)
    assert response.status_code == 302
    assert _files(app) == []


def test_upload_to_a_task_the_user_cannot_edit_is_refused_before_its_body_is_read(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task_id = api.post("/api/tasks", alice.token, json={"title": "Alice's"}).json["id"]
    browser = browse(bob)
    body = io.BytesIO(part_head('filename="big.bin"', "text/plain") + b"y" * 100_000)

    response = browser.client.post(
        f"/tasks/{task_id}/attachments",
        input_stream=body,
        content_length=len(body.getvalue()),
        content_type=MULTIPART,
    )

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert body.tell() == 0  # not a byte of the body was read (nor its CSRF token)
    assert _files(app) == []
