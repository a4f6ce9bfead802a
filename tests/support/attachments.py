"""Uploads through the API (with the test client's multipart or one written by hand),
downloads, and what they leave in the database and on disk."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from doable.attachments.models import Attachment
from doable.extensions import db
from tests.support.factories import Account, ApiClient


def attachments_path(task_id: int, attachment_id: int | None = None) -> str:
    path = f"/api/tasks/{task_id}/attachments"
    return path if attachment_id is None else f"{path}/{attachment_id}"


def upload(
    api: ApiClient,
    token: str,
    task_id: int,
    content: bytes = b"%PDF-1.7 hello",
    filename: str = "notes.pdf",
    content_type: str = "application/pdf",
) -> TestResponse:
    return api.post(
        attachments_path(task_id),
        token,
        data={"file": (io.BytesIO(content), filename, content_type)},
        content_type="multipart/form-data",
    )


def uploaded(api: ApiClient, token: str, task_id: int, **kwargs: Any) -> dict[str, Any]:
    """``upload``, which must succeed; the new attachment."""
    response = upload(api, token, task_id, **kwargs)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def upload_dir(app: Flask) -> Path:
    return Path(app.config["UPLOAD_DIR"])


def files_under(root: Path) -> list[Path]:
    """Every file below ``root``, hidden ``.staging`` folder included."""
    if not root.exists():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file())


KEY = re.compile(r"^[0-9a-f]{32}$")
FIELDS = {"id", "filename", "content_type", "size", "sha256", "created_at"}
#: Every byte value, NULs, and sequences that are not valid UTF-8.
BINARY = bytes(range(256)) + b"\x00\x00\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\x00end"
BOUNDARY = "doable-test-boundary-7d1f"


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
