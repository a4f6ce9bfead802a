"""Uploads through the API and the files they leave on disk."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from tests.support.factories import ApiClient


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
