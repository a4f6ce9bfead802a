"""Downloading an attachment (docs/api.md, Attachments): the exact bytes with safe
headers, conditional GETs, and 404 through another task."""

from __future__ import annotations

import hashlib

from tests.support.attachments import BINARY, download, new_task, uploaded
from tests.support.factories import Account, ApiClient, assert_problem

# --- download ----------------------------------------------------------------------------


def test_download_sends_exact_bytes_and_safe_attachment_headers(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    content = b"%PDF-1.7 \x00\xff body"
    body = uploaded(api, alice.token, task_id, content=content, filename="plan.pdf")

    response = download(api, alice.token, task_id, body["id"])

    assert response.status_code == 200
    assert response.get_data() == content
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Length"] == str(len(content))
    assert response.headers["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert "X-Request-Id" in response.headers


def test_download_with_matching_if_none_match_returns_304_without_body(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, content=BINARY)

    response = download(
        api, alice.token, task_id, body["id"], headers={"If-None-Match": f'"{body["sha256"]}"'}
    )

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == f'"{body["sha256"]}"'


def test_download_with_stale_if_none_match_returns_200_with_bytes(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, content=BINARY)

    response = download(
        api, alice.token, task_id, body["id"], headers={"If-None-Match": '"' + "0" * 64 + '"'}
    )

    assert response.status_code == 200
    assert response.get_data() == BINARY


def test_download_attachment_through_another_task_returns_404(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id)
    other_task = new_task(api, alice, "Other")

    response = download(api, alice.token, other_task, body["id"])

    assert_problem(response, 404)
    assert "Content-Disposition" not in response.headers


def test_download_missing_attachment_returns_404(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    problem = assert_problem(download(api, alice.token, task_id, 999), 404)

    assert "999" in problem["detail"]
