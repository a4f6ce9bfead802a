"""A full upload disk: the store refuses with ``InsufficientStorage``
(507 through the API), leaves neither a staged nor a stored file nor a row behind, and
works again once there is room. Simulated here in-process; ``tests/faults`` fills a
real tmpfs through a real server."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.attachments import storage as storage_module
from doable.attachments.models import Attachment
from doable.attachments.storage import FileSystemStorage
from doable.errors import InsufficientStorage
from doable.extensions import db
from tests.support.attachments import files_under, upload
from tests.support.factories import ApiClient, assert_problem

NO_SPACE_ERRORS = [errno.ENOSPC, errno.EDQUOT]


class SmallDisk:
    """``os`` as the storage module sees it, with a disk that has ``free`` bytes left:
    a write past them fails with ``code`` after writing what fit, as a real disk does."""

    def __init__(self, free: int, code: int = errno.ENOSPC, fail_on: str = "write") -> None:
        self.free = free
        self.code = code
        self.fail_on = fail_on

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def error(self) -> OSError:
        return OSError(self.code, os.strerror(self.code))

    def fdopen(self, fd: int, mode: str) -> Any:
        return _FillingFile(os.fdopen(fd, mode), self)

    def fsync(self, fd: int) -> None:
        if self.fail_on == "fsync":  # NFS and some quotas report the failure this late
            raise self.error()
        os.fsync(fd)


class _FillingFile:
    def __init__(self, real: Any, disk: SmallDisk) -> None:
        self.real, self.disk = real, disk

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()

    def write(self, data: bytes) -> int:
        if self.disk.fail_on == "write" and len(data) > self.disk.free:
            self.real.write(data[: self.disk.free])
            self.disk.free = 0
            raise self.disk.error()
        self.disk.free -= len(data)
        return int(self.real.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


# --- the store -------------------------------------------------------------------------


@pytest.mark.parametrize("code", NO_SPACE_ERRORS, ids=errno.errorcode.get)
def test_save_on_a_full_disk_raises_insufficient_storage_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileSystemStorage(tmp_path)
    kept = store.save([b"earlier upload"])
    monkeypatch.setattr(storage_module, "os", SmallDisk(free=10, code=code))

    with (
        caplog.at_level(logging.ERROR, "doable.attachments.storage"),
        pytest.raises(InsufficientStorage) as raised,
    ):
        store.save([b"0123456789", b"this chunk does not fit"])

    assert raised.value.status == 507
    assert files_under(tmp_path) == [tmp_path / kept[:2] / kept]
    assert list((tmp_path / ".staging").iterdir()) == []
    assert "attachment storage is full" in caplog.text


def test_save_whose_fsync_reports_a_full_disk_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileSystemStorage(tmp_path)
    monkeypatch.setattr(storage_module, "os", SmallDisk(free=10**6, fail_on="fsync"))

    with pytest.raises(InsufficientStorage):
        store.save([b"written, but never made durable"])

    assert files_under(tmp_path) == []


def test_save_when_not_even_the_staging_file_can_be_created_raises_insufficient_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_inodes_left(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(storage_module.tempfile, "mkstemp", no_inodes_left)

    with pytest.raises(InsufficientStorage):
        FileSystemStorage(tmp_path).save([b"bytes"])


def test_save_other_os_errors_are_not_disguised_as_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_module, "os", SmallDisk(free=0, code=errno.EIO))

    with pytest.raises(OSError, match="Input/output error") as raised:
        FileSystemStorage(tmp_path).save([b"bytes"])

    assert raised.value.errno == errno.EIO
    assert not isinstance(raised.value, InsufficientStorage)
    assert list((tmp_path / ".staging").iterdir()) == []


# --- through the API -------------------------------------------------------------------


def attachment_rows(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) or 0)


def test_upload_to_a_full_disk_returns_507_and_keeps_nothing_until_there_is_room(
    app: Flask, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = api.account("alice")
    task_id = api.post("/api/tasks", alice.token, json={"title": "Trip"}).get_json()["id"]
    first = upload(
        api,
        alice.token,
        task_id,
        b"fits on the disk",
        filename="notes.txt",
        content_type="text/plain",
    )
    assert first.status_code == 201
    upload_dir = Path(app.config["UPLOAD_DIR"])
    stored_before = files_under(upload_dir)
    disk = SmallDisk(free=100)
    monkeypatch.setattr(storage_module, "os", disk)

    full = upload(
        api, alice.token, task_id, b"x" * 200_000, filename="notes.txt", content_type="text/plain"
    )

    problem = assert_problem(full, 507)
    assert problem["title"] == "Insufficient Storage"
    assert "no room" in problem["detail"]
    assert attachment_rows(app) == 1
    assert files_under(upload_dir) == stored_before
    listed = api.get(f"/api/tasks/{task_id}/attachments", alice.token).get_json()
    assert [item["id"] for item in listed["attachments"]] == [first.get_json()["id"]]

    disk.free = 10**9  # an operator made room
    again = upload(
        api, alice.token, task_id, b"x" * 200_000, filename="notes.txt", content_type="text/plain"
    )

    assert again.status_code == 201, again.get_json()
    assert attachment_rows(app) == 2
    assert len(files_under(upload_dir)) == 2


def test_upload_route_documents_507(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()

    responses = spec["paths"]["/api/tasks/{task_id}/attachments"]["post"]["responses"]

    assert "507" in responses
