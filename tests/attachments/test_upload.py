"""Attachments through the API (docs/api.md, Attachments): streamed uploads with size limits and a
per-owner quota, sanitised display names, exact-bytes downloads served safely, and
stored files that go when (and only when) their rows' deletion is committed."""

from __future__ import annotations

import hashlib
import io
import random
import re
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.http import parse_options_header
from werkzeug.test import TestResponse

from doable.attachments.models import Attachment
from doable.extensions import db
from doable.tasks.models import Task
from tests.support.attachments import attachments_path, files_under, upload, upload_dir, uploaded
from tests.support.factories import Account, ApiClient, assert_problem, share

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
KEY = re.compile(r"^[0-9a-f]{32}$")
FIELDS = {"id", "filename", "content_type", "size", "sha256", "created_at"}
#: Every byte value, NULs, and sequences that are not valid UTF-8.
BINARY = bytes(range(256)) + b"\x00\x00\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\x00end"
BOUNDARY = "doable-test-boundary-7d1f"
LIMIT = 1024

# --- helpers -------------------------------------------------------------------------


def part_head(name_params: str, content_type: str) -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; {name_params}\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()


PART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def raw_upload(
    api: ApiClient,
    token: str,
    task_id: int,
    name_params: str,
    content: bytes = b"raw bytes",
    content_type: str = "application/octet-stream",
) -> TestResponse:
    """A multipart body written by hand, for file names the test client cannot send
    (escaped quotes, backslashes, RFC 2231 ``filename*`` with CR/LF or NUL)."""
    body = part_head(name_params, content_type) + content + PART_TAIL
    return api.post(attachments_path(task_id), token, data=body, content_type=MULTIPART)


def download(api: ApiClient, token: str, task_id: int, attachment_id: int, **kw: Any) -> Any:
    """GET the file, read it all and close the response (a WSGI server would close it)."""
    response = api.get(attachments_path(task_id, attachment_id), token, **kw)
    response.get_data()
    response.close()
    return response


def stored_path(app: Flask, key: str) -> Path:
    return upload_dir(app) / key[:2] / key


def rows(app: Flask) -> list[dict[str, Any]]:
    """Every attachment row, every column, in id order."""
    with app.app_context():
        table = Attachment.__table__
        query = sa.select(table).order_by(table.c.id)
        return [dict(row._mapping) for row in db.session.execute(query)]


def row(app: Flask, attachment_id: int) -> dict[str, Any]:
    (found,) = [r for r in rows(app) if r["id"] == attachment_id]
    return found


def new_task(api: ApiClient, account: Account, title: str = "Trip") -> int:
    response = api.post("/api/tasks", account.token, json={"title": title})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]  # type: ignore[no-any-return]


@contextmanager
def failing_flush(kind: type) -> Iterator[None]:
    """Make every flush that deletes a ``kind`` fail after its SQL ran: the commit
    fails and the transaction is rolled back, as after a lost connection."""

    def fail(session: Session, flush_context: Any) -> None:
        if any(isinstance(obj, kind) for obj in session.deleted):
            raise RuntimeError("database went away during commit")

    sa.event.listen(Session, "after_flush", fail)
    try:
        yield
    finally:
        sa.event.remove(Session, "after_flush", fail)


@pytest.fixture
def task_id(api: ApiClient, alice: Account) -> int:
    return new_task(api, alice)


@pytest.fixture
def small(make_app: Any) -> ApiClient:
    """A client of an app that takes uploads of at most LIMIT bytes."""
    return ApiClient(make_app(MAX_UPLOAD_SIZE=LIMIT).test_client())


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


# --- display names and declared types --------------------------------------------------


def test_upload_path_traversal_name_stores_base_name_and_a_generated_file_inside_upload_dir(
    app: Flask, api: ApiClient, alice: Account, task_id: int, tmp_path: Path
) -> None:
    body = uploaded(api, alice.token, task_id, filename="../../etc/passwd", content=b"pwned")

    assert body["filename"] == "passwd"
    root = upload_dir(app).resolve()
    (only,) = files_under(root)
    assert KEY.match(only.name)
    assert only.parent.name == only.name[:2]
    assert only.parent.parent == root
    assert only.name == row(app, body["id"])["storage_key"]
    assert not (root / "../../etc/passwd").resolve().exists()
    assert [p for p in tmp_path.rglob("passwd")] == []


def test_upload_backslash_path_name_stores_base_name(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(
        api, alice.token, task_id, "filename*=UTF-8''..%5C..%5Cwindows%5Csystem32%5Cevil.exe"
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["filename"] == "evil.exe"
    assert row(app, response.get_json()["id"])["filename"] == "evil.exe"


def test_upload_html_name_and_type_is_listed_as_declared_and_served_as_octet_stream(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    page = b"<html><script>alert(document.cookie)</script></html>"
    body = uploaded(
        api, alice.token, task_id, content=page, filename="<script>.html", content_type="text/html"
    )

    listed = api.get(attachments_path(task_id), alice.token).get_json()["attachments"]
    response = download(api, alice.token, task_id, body["id"])

    assert (body["filename"], body["content_type"]) == ("script.html", "text/html")
    assert [(a["filename"], a["content_type"]) for a in listed] == [("script.html", "text/html")]
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.get_data() == page
    assert row(app, body["id"])["content_type"] == "text/html"


@pytest.mark.parametrize(
    "declared",
    [
        "text/html",
        "image/svg+xml",
        "application/javascript",
        "text/javascript",
        "application/xhtml+xml",
        "application/xml",
        "text/xml",
        "application/x-shockwave-flash",
        "multipart/x-mixed-replace",
        "application/octet-stream",
        "made/up",
    ],
)
def test_download_unsafe_declared_type_is_served_as_octet_stream(
    api: ApiClient, alice: Account, task_id: int, declared: str
) -> None:
    body = uploaded(
        api, alice.token, task_id, content=b"<svg onload=alert(1)>", content_type=declared
    )

    response = download(api, alice.token, task_id, body["id"])

    assert body["content_type"] == declared
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("declared", ["application/pdf", "image/png", "text/plain", "text/csv"])
def test_download_safe_declared_type_is_served_as_declared(
    api: ApiClient, alice: Account, task_id: int, declared: str
) -> None:
    body = uploaded(api, alice.token, task_id, content=b"\x89PNG data", content_type=declared)

    response = download(api, alice.token, task_id, body["id"])

    assert response.status_code == 200
    assert response.mimetype == declared
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data() == b"\x89PNG data"


def test_upload_name_with_quotes_stores_it_without_quotes(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(api, alice.token, task_id, r'filename="say \"hi\" it' + "'s.pdf\"")
    assert response.status_code == 201, response.get_data(as_text=True)
    attachment_id = response.get_json()["id"]

    got = download(api, alice.token, task_id, attachment_id)

    assert response.get_json()["filename"] == "say hi its.pdf"
    assert row(app, attachment_id)["filename"] == "say hi its.pdf"
    disposition = got.headers["Content-Disposition"]
    assert disposition.count('"') == 2
    assert parse_options_header(disposition) == (
        "attachment",
        {"filename": "say hi its.pdf"},
    )


def test_upload_unicode_name_keeps_its_letters_and_download_sends_filename_star(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, filename="résumé 2026.pdf")

    response = download(api, alice.token, task_id, body["id"])

    assert body["filename"] == "résumé 2026.pdf"
    assert row(app, body["id"])["filename"] == "résumé 2026.pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii()
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf" in disposition
    assert parse_options_header(disposition)[1]["filename"] == "résumé 2026.pdf"


def test_upload_very_long_name_is_cut_to_255_characters_keeping_the_extension(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, filename="a" * 300 + ".pdf")

    assert len(body["filename"]) <= 255
    assert body["filename"].endswith(".pdf")
    assert body["filename"].startswith("a" * 200)
    assert row(app, body["id"])["filename"] == body["filename"]


def test_upload_very_long_unicode_name_fits_the_column_and_downloads(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, filename="é" * 400 + ".pdf")

    response = download(api, alice.token, task_id, body["id"])

    assert len(body["filename"]) <= 255
    assert body["filename"].endswith(".pdf")
    assert set(body["filename"].removesuffix(".pdf")) == {"é"}
    assert (
        parse_options_header(response.headers["Content-Disposition"])[1]["filename"]
        == (body["filename"])
    )


def test_upload_name_with_tab_and_control_characters_stores_them_removed(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, filename="tab\there\x01\x1f.pdf")

    assert body["filename"] == "tabhere.pdf"
    assert row(app, body["id"])["filename"] == "tabhere.pdf"


def test_upload_name_with_encoded_crlf_cannot_inject_download_headers(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(
        api, alice.token, task_id, "filename*=UTF-8''evil%0D%0ASet-Cookie%3A%20sid%3D1%0D%0A.pdf"
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    attachment_id = response.get_json()["id"]

    got = download(api, alice.token, task_id, attachment_id)

    assert response.get_json()["filename"] == "evilSet-Cookie: sid=1.pdf"
    assert row(app, attachment_id)["filename"] == "evilSet-Cookie: sid=1.pdf"
    assert "Set-Cookie" not in got.headers
    assert "\r" not in got.headers["Content-Disposition"]
    assert "\n" not in got.headers["Content-Disposition"]


def test_upload_name_with_encoded_nul_stores_it_removed(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(api, alice.token, task_id, "filename*=UTF-8''nul%00byte.pdf")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["filename"] == "nulbyte.pdf"
    assert row(app, response.get_json()["id"])["filename"] == "nulbyte.pdf"


def test_upload_with_empty_name_is_stored_as_file(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(api, alice.token, task_id, 'filename=""', content=b"nameless")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["filename"] == "file"
    assert row(app, response.get_json()["id"])["filename"] == "file"


def test_upload_with_malformed_content_type_records_octet_stream(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(api, alice.token, task_id, 'filename="x.bin"', content_type="not a type")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["content_type"] == "application/octet-stream"
    assert row(app, response.get_json()["id"])["content_type"] == "application/octet-stream"


# --- list --------------------------------------------------------------------------------


def test_list_attachments_returns_each_in_upload_order(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    first = uploaded(api, alice.token, task_id, content=b"one", filename="one.pdf")
    second = uploaded(
        api, alice.token, task_id, content=BINARY, filename="two.png", content_type="image/png"
    )
    other_task = new_task(api, alice, "Other")
    uploaded(api, alice.token, other_task, content=b"elsewhere")

    response = api.get(attachments_path(task_id), alice.token)

    assert response.status_code == 200
    assert response.get_json() == {"attachments": [first, second]}
    assert all(set(item) == FIELDS for item in response.get_json()["attachments"])


def test_list_attachments_of_task_without_files_is_empty(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    response = api.get(attachments_path(task_id), alice.token)

    assert response.status_code == 200
    assert response.get_json() == {"attachments": []}


def test_list_attachments_of_missing_task_returns_404(api: ApiClient, alice: Account) -> None:
    assert_problem(api.get(attachments_path(999), alice.token), 404)


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


# --- delete ------------------------------------------------------------------------------


def test_delete_attachment_returns_204_and_removes_its_row_and_file_only(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    gone = uploaded(api, alice.token, task_id, content=b"gone")
    kept = uploaded(api, alice.token, task_id, content=b"kept")
    gone_path = stored_path(app, row(app, gone["id"])["storage_key"])
    kept_path = stored_path(app, row(app, kept["id"])["storage_key"])

    response = api.delete(attachments_path(task_id, gone["id"]), alice.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert [r["id"] for r in rows(app)] == [kept["id"]]
    assert not gone_path.exists()
    assert files_under(upload_dir(app)) == [kept_path]
    assert_problem(download(api, alice.token, task_id, gone["id"]), 404)


def test_delete_attachment_twice_returns_404(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id)
    assert api.delete(attachments_path(task_id, body["id"]), alice.token).status_code == 204

    response = api.delete(attachments_path(task_id, body["id"]), alice.token)

    assert_problem(response, 404)
    assert rows(app) == []


def test_delete_attachment_through_another_task_returns_404_and_keeps_it(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id)
    other_task = new_task(api, alice, "Other")
    before = rows(app)

    response = api.delete(attachments_path(other_task, body["id"]), alice.token)

    assert_problem(response, 404)
    assert rows(app) == before
    assert stored_path(app, before[0]["storage_key"]).exists()


def test_delete_attachment_whose_commit_fails_returns_500_and_keeps_row_and_file(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, content=b"survivor")
    before = rows(app)
    path = stored_path(app, before[0]["storage_key"])

    with failing_flush(Attachment):
        response = api.delete(attachments_path(task_id, body["id"]), alice.token)
    uploaded(api, alice.token, task_id, content=b"a later commit")

    assert_problem(response, 500)
    assert rows(app)[0] == before[0]
    assert path.read_bytes() == b"survivor"
    assert download(api, alice.token, task_id, body["id"]).get_data() == b"survivor"


# --- deleting tasks and accounts -------------------------------------------------------


def test_delete_task_removes_its_attachments_rows_and_files(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    uploaded(api, alice.token, task_id, content=b"one")
    uploaded(api, alice.token, task_id, content=b"two")
    other_task = new_task(api, alice, "Other")
    kept = uploaded(api, alice.token, other_task, content=b"other task")
    kept_path = stored_path(app, row(app, kept["id"])["storage_key"])

    response = api.delete(f"/api/tasks/{task_id}", alice.token)

    assert response.status_code == 204
    assert [(r["id"], r["task_id"]) for r in rows(app)] == [(kept["id"], other_task)]
    assert files_under(upload_dir(app)) == [kept_path]


def test_delete_task_whose_commit_fails_keeps_its_attachments_and_files(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    uploaded(api, alice.token, task_id, content=b"one")
    before_rows, before_files = rows(app), files_under(upload_dir(app))

    with failing_flush(Task):
        response = api.delete(f"/api/tasks/{task_id}", alice.token)

    assert_problem(response, 500)
    assert rows(app) == before_rows
    assert files_under(upload_dir(app)) == before_files
    assert api.get(f"/api/tasks/{task_id}", alice.token).status_code == 200


def test_delete_account_removes_the_files_of_all_its_tasks(
    app: Flask, api: ApiClient, alice: Account, bob: Account, task_id: int
) -> None:
    second_task = new_task(api, alice, "Second")
    uploaded(api, alice.token, task_id, content=b"a1")
    uploaded(api, alice.token, second_task, content=b"a2")
    bobs_task = new_task(api, bob, "Bob's")
    kept = uploaded(api, bob.token, bobs_task, content=b"bob's")
    kept_path = stored_path(app, row(app, kept["id"])["storage_key"])

    response = api.delete("/api/me", alice.token, json={"current_password": alice.password})

    assert response.status_code == 204
    assert [r["id"] for r in rows(app)] == [kept["id"]]
    assert files_under(upload_dir(app)) == [kept_path]


def test_delete_account_of_edit_sharee_keeps_their_uploads_on_the_owners_task(
    app: Flask, api: ApiClient, alice: Account, bob: Account, task_id: int
) -> None:
    share(api, alice, task_id, bob, "edit")
    body = uploaded(api, bob.token, task_id, content=b"bob's contribution")
    path = stored_path(app, row(app, body["id"])["storage_key"])

    response = api.delete("/api/me", bob.token, json={"current_password": bob.password})

    assert response.status_code == 204
    assert row(app, body["id"])["user_id"] is None
    assert path.read_bytes() == b"bob's contribution"
    assert download(api, alice.token, task_id, body["id"]).get_data() == b"bob's contribution"


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


# --- quota -------------------------------------------------------------------------------


@pytest.fixture
def quota_app(make_app: Any) -> Flask:
    return make_app(USER_QUOTA=100)  # type: ignore[no-any-return]


@pytest.fixture
def quota_api(quota_app: Flask) -> ApiClient:
    return ApiClient(quota_app.test_client())


def test_upload_filling_the_quota_exactly_is_accepted(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice = quota_api.account("alice")
    task = new_task(quota_api, alice)
    uploaded(quota_api, alice.token, task, content=b"a" * 60)

    response = upload(quota_api, alice.token, task, content=b"b" * 40)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert sum(r["size"] for r in rows(quota_app)) == 100


def test_upload_over_quota_returns_413_with_detail_and_stores_nothing(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice = quota_api.account("alice")
    task = new_task(quota_api, alice)
    uploaded(quota_api, alice.token, task, content=b"a" * 60)
    before_rows, before_files = rows(quota_app), files_under(upload_dir(quota_app))

    response = upload(quota_api, alice.token, task, content=b"b" * 41)

    problem = assert_problem(response, 413)
    assert "quota" in problem["detail"].lower()
    assert "100" in problem["detail"]
    assert rows(quota_app) == before_rows
    assert files_under(upload_dir(quota_app)) == before_files


def test_upload_quota_counts_every_task_of_the_owner(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice = quota_api.account("alice")
    first, second = new_task(quota_api, alice, "One"), new_task(quota_api, alice, "Two")
    uploaded(quota_api, alice.token, first, content=b"a" * 60)

    response = upload(quota_api, alice.token, second, content=b"b" * 41)

    assert_problem(response, 413)
    assert len(rows(quota_app)) == 1
    assert len(files_under(upload_dir(quota_app))) == 1


def test_upload_by_edit_sharee_counts_against_the_owners_quota(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice, bob = quota_api.account("alice"), quota_api.account("bob")
    task = new_task(quota_api, alice)
    share(quota_api, alice, task, bob, "edit")
    uploaded(quota_api, bob.token, task, content=b"b" * 60)

    by_owner = upload(quota_api, alice.token, task, content=b"a" * 41)
    by_sharee = upload(quota_api, bob.token, task, content=b"b" * 41)

    assert "quota" in assert_problem(by_owner, 413)["detail"].lower()
    assert "quota" in assert_problem(by_sharee, 413)["detail"].lower()
    assert [(r["user_id"], r["size"]) for r in rows(quota_app)] == [(bob.id, 60)]
    assert len(files_under(upload_dir(quota_app))) == 1


def test_upload_by_edit_sharee_to_own_task_uses_their_own_quota(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice, bob = quota_api.account("alice"), quota_api.account("bob")
    alices_task = new_task(quota_api, alice)
    share(quota_api, alice, alices_task, bob, "edit")
    uploaded(quota_api, bob.token, alices_task, content=b"b" * 90)
    bobs_task = new_task(quota_api, bob, "Bob's")

    response = upload(quota_api, bob.token, bobs_task, content=b"c" * 90)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(rows(quota_app)) == 2


def test_upload_after_deleting_an_attachment_has_the_quota_back(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice = quota_api.account("alice")
    task = new_task(quota_api, alice)
    first = uploaded(quota_api, alice.token, task, content=b"a" * 80)
    deleted = quota_api.delete(attachments_path(task, first["id"]), alice.token)
    assert deleted.status_code == 204

    response = upload(quota_api, alice.token, task, content=b"b" * 80)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert [r["size"] for r in rows(quota_app)] == [80]
