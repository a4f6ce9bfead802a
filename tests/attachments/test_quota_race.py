"""The storage quota is never exceeded, even by uploads racing each other: each one
sums the owner's usage and records its file as one step that the others wait for."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from tests.support.attachments import attachments_path, files_under, new_task, rows, upload_dir
from tests.support.factories import ApiClient, assert_problem, at_once

QUOTA = 3000
FILE_SIZE = 1000
UPLOADERS = 12


@pytest.fixture
def quota_app(make_app: Any) -> Flask:
    return make_app(USER_QUOTA=QUOTA)  # type: ignore[no-any-return]


def test_concurrent_uploads_never_exceed_the_quota(quota_app: Flask) -> None:
    api = ApiClient(quota_app.test_client())
    alice = api.account("alice")
    tasks = [new_task(api, alice, f"Task {n}") for n in range(3)]  # one owner, several tasks

    def send(client: Any, n: int) -> Any:
        body = {"file": (io.BytesIO(bytes([n]) * FILE_SIZE), f"{n}.bin", "text/plain")}
        return client.post(
            attachments_path(tasks[n % len(tasks)]),
            headers=alice.auth,
            data=body,
            content_type="multipart/form-data",
        )

    results = at_once(quota_app, send, UPLOADERS)

    statuses = sorted(response.status_code for response in results)
    fits = QUOTA // FILE_SIZE
    assert statuses == [201] * fits + [413] * (UPLOADERS - fits), statuses
    for response in results:
        if response.status_code == 413:
            assert "quota" in assert_problem(response, 413)["detail"].lower()
    stored = rows(quota_app)
    assert sum(row["size"] for row in stored) == QUOTA
    assert len(files_under(upload_dir(quota_app))) == len(stored)
