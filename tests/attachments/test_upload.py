"""Uploading attachments (docs/api.md, Attachments): streamed, exact bytes, size limits,
refused bodies that store nothing, and concurrent uploads to one task."""

from __future__ import annotations

import hashlib
import io
import random
import threading
import tracemalloc
from pathlib import Path
from typing import Any

from flask import Flask

from tests.support.attachments import (
    BINARY,
    FIELDS,
    KEY,
    MULTIPART,
    PART_TAIL,
    attachments_path,
    download,
    files_under,
    new_task,
    part_head,
    raw_upload,
    row,
    rows,
    stored_path,
    upload,
    upload_dir,
    uploaded,
)
from tests.support.factories import TIMESTAMP, Account, ApiClient, assert_problem

LIMIT = 1024


# --- upload ----------------------------------------------------------------------------


def test_upload_file_returns_201_with_representation_and_location(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    content = b"%PDF-1.7 minutes of the meeting"

    response = upload(api, alice.token, task_id, content=content, filename="minutes.pdf")

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == FIELDS
    assert body["filename"] == "minutes.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert TIMESTAMP.match(body["created_at"])
    assert response.headers["Location"].endswith(attachments_path(task_id, body["id"]))
    stored = row(app, body["id"])
    assert (stored["task_id"], stored["user_id"]) == (task_id, alice.id)
    assert KEY.match(stored["storage_key"])
    assert stored_path(app, stored["storage_key"]).read_bytes() == content


def test_upload_binary_with_nul_and_non_utf8_bytes_round_trips_exactly(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    expected_sha = hashlib.sha256(BINARY).hexdigest()

    body = uploaded(api, alice.token, task_id, content=BINARY, filename="blob.bin")
    response = download(api, alice.token, task_id, body["id"])

    assert (body["size"], body["sha256"]) == (len(BINARY), expected_sha)
    assert response.status_code == 200
    assert response.get_data() == BINARY
    assert hashlib.sha256(response.get_data()).hexdigest() == expected_sha
    assert response.headers["ETag"] == f'"{expected_sha}"'
    stored = row(app, body["id"])
    assert (stored["size"], stored["sha256"]) == (len(BINARY), expected_sha)
    assert stored_path(app, stored["storage_key"]).read_bytes() == BINARY


def test_upload_of_many_chunks_round_trips_exactly(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    content = random.Random(7).randbytes(3 * 64 * 1024 + 17)  # several read chunks

    body = uploaded(api, alice.token, task_id, content=content, filename="big.bin")
    response = download(api, alice.token, task_id, body["id"])

    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["size"] == len(content)
    assert response.headers["Content-Length"] == str(len(content))
    assert response.get_data() == content
    assert stored_path(app, row(app, body["id"])["storage_key"]).read_bytes() == content


def test_upload_large_file_streams_without_holding_it_in_memory(
    app: Flask, api: ApiClient, alice: Account, task_id: int, tmp_path: Path
) -> None:
    size, block_size = 8 * 1024 * 1024, 1024 * 1024
    request_body = tmp_path / "request.bin"
    digest = hashlib.sha256()
    with request_body.open("wb") as out:
        out.write(part_head('filename="large.zip"', "application/zip"))
        for n in range(size // block_size):
            block = random.Random(n).randbytes(block_size)
            digest.update(block)
            out.write(block)
        out.write(PART_TAIL)

    tracemalloc.start()
    try:
        with request_body.open("rb") as stream:
            response = api.post(
                attachments_path(task_id), alice.token, input_stream=stream, content_type=MULTIPART
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 201, response.get_data(as_text=True)
    assert peak < size // 4, f"the upload peaked at {peak} bytes of Python memory"
    body = response.get_json()
    assert (body["size"], body["sha256"]) == (size, digest.hexdigest())
    stored = stored_path(app, row(app, body["id"])["storage_key"])
    assert stored.stat().st_size == size
    with stored.open("rb") as saved:
        assert hashlib.file_digest(saved, "sha256").hexdigest() == digest.hexdigest()


def test_upload_exactly_at_size_limit_is_accepted(make_app: Any) -> None:
    small_app = make_app(MAX_UPLOAD_SIZE=LIMIT)
    api = ApiClient(small_app.test_client())
    alice = api.account("alice")
    task = new_task(api, alice)
    content = b"\x00" * LIMIT

    response = upload(api, alice.token, task, content=content)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["size"] == LIMIT
    (stored,) = rows(small_app)
    assert files_under(upload_dir(small_app)) == [stored_path(small_app, stored["storage_key"])]


def test_upload_one_byte_over_size_limit_returns_413_and_stores_nothing(make_app: Any) -> None:
    small_app = make_app(MAX_UPLOAD_SIZE=LIMIT)
    api = ApiClient(small_app.test_client())
    alice = api.account("alice")
    task = new_task(api, alice)

    response = upload(api, alice.token, task, content=b"x" * (LIMIT + 1))

    problem = assert_problem(response, 413)
    assert str(LIMIT) in problem["detail"]
    assert rows(small_app) == []
    assert files_under(upload_dir(small_app)) == []


def test_upload_far_over_request_limit_returns_413_and_stores_nothing(make_app: Any) -> None:
    small_app = make_app(MAX_UPLOAD_SIZE=LIMIT)
    api = ApiClient(small_app.test_client())
    alice = api.account("alice")
    task = new_task(api, alice)

    content = b"x" * (LIMIT + 2 * 1024 * 1024)  # past MAX_CONTENT_LENGTH too

    response = raw_upload(api, alice.token, task, 'filename="huge.bin"', content=content)

    assert_problem(response, 413)
    assert rows(small_app) == []
    assert files_under(upload_dir(small_app)) == []


def test_upload_over_size_limit_keeps_earlier_attachments(make_app: Any) -> None:
    small_app = make_app(MAX_UPLOAD_SIZE=LIMIT)
    api = ApiClient(small_app.test_client())
    alice = api.account("alice")
    task = new_task(api, alice)
    earlier = uploaded(api, alice.token, task, content=b"fits")
    before = rows(small_app)

    response = upload(api, alice.token, task, content=b"y" * (LIMIT * 3))

    assert_problem(response, 413)
    assert rows(small_app) == before
    key = before[0]["storage_key"]
    assert files_under(upload_dir(small_app)) == [stored_path(small_app, key)]
    listed = api.get(attachments_path(task), alice.token).get_json()["attachments"]
    assert [a["id"] for a in listed] == [earlier["id"]]


def test_upload_empty_file_returns_400_and_stores_nothing(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = upload(api, alice.token, task_id, content=b"")

    problem = assert_problem(response, 400)
    assert "file" in problem["errors"]
    assert rows(app) == []
    assert files_under(upload_dir(app)) == []


def test_upload_without_file_field_returns_400_naming_the_field(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = api.post(
        attachments_path(task_id),
        alice.token,
        data={"document": (io.BytesIO(b"wrong field"), "a.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )

    problem = assert_problem(response, 400)
    assert "file" in problem["errors"]
    assert rows(app) == []
    assert files_under(upload_dir(app)) == []


def test_upload_file_field_sent_as_plain_text_returns_400(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = api.post(
        attachments_path(task_id),
        alice.token,
        data={"file": "just a form value"},
        content_type="multipart/form-data",
    )

    problem = assert_problem(response, 400)
    assert "file" in problem["errors"]
    assert rows(app) == []


def test_upload_json_body_returns_415_and_stores_nothing(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = api.post(attachments_path(task_id), alice.token, json={"file": "aGVsbG8="})

    assert_problem(response, 415)
    assert "multipart/form-data" in response.headers["Accept-Post"]
    assert rows(app) == []


def test_upload_to_missing_task_returns_404_and_stores_nothing(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    response = upload(api, alice.token, 999)

    assert_problem(response, 404)
    assert rows(app) == []
    assert files_under(upload_dir(app)) == []


# --- concurrency -------------------------------------------------------------------------


def test_upload_concurrently_to_one_task_stores_every_file(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    workers = 4
    barrier = threading.Barrier(workers, timeout=30)
    contents = [bytes([n]) * (1000 + n) + BINARY for n in range(workers)]
    results: list[Any] = [None] * workers

    def send(n: int) -> None:
        try:
            client = ApiClient(app.test_client())
            barrier.wait()
            response = upload(
                client, alice.token, task_id, content=contents[n], filename=f"{n}.bin"
            )
            results[n] = (response.status_code, response.get_json())
        except Exception as exc:  # reported by the assertions below
            results[n] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert [result[0] for result in results] == [201] * workers, results
    bodies = [result[1] for result in results]
    assert len({body["id"] for body in bodies}) == workers
    assert [b["sha256"] for b in bodies] == [hashlib.sha256(c).hexdigest() for c in contents]
    stored = rows(app)
    assert len({r["storage_key"] for r in stored}) == workers
    assert files_under(upload_dir(app)) == sorted(
        stored_path(app, r["storage_key"]) for r in stored
    )
    by_name = {r["filename"]: stored_path(app, r["storage_key"]).read_bytes() for r in stored}
    assert by_name == {f"{n}.bin": contents[n] for n in range(workers)}


# --- schemathesis findings: multipart bodies and routes --------------------------


# Found by schemathesis (tests/test_fuzz.py).
def test_a_body_sent_to_no_route_is_404_not_415(api: ApiClient, alice):
    """An id too long to be one matches no route; the body's type must not matter."""
    response = api.post(
        "/api/tasks/906024667838/attachments",
        alice.token,
        data={"file": (io.BytesIO(b"x"), "a.txt")},
        content_type="multipart/form-data",
    )
    assert_problem(response, 404)


# Found by schemathesis (tests/test_fuzz.py).
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


# Found by schemathesis (tests/test_fuzz.py).
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


# Found by schemathesis (tests/test_fuzz.py).
def test_a_file_sent_as_a_plain_field_is_refused(api: ApiClient, alice):
    task = api.post("/api/tasks", alice.token, json={"title": "t"}).json
    response = api.post(
        f"/api/tasks/{task['id']}/attachments",
        alice.token,
        data={"file": "not a file"},
        content_type="multipart/form-data",
    )
    assert "file" in assert_problem(response, 400)["errors"]
