"""Fault: the upload disk fills up.

A real server stores attachments on a 2 MiB tmpfs. Uploading until it is full: the
upload that does not fit answers 507 Insufficient Storage as a Problem Details document
and leaves nothing behind (no staged file, no stored file, no row); the files stored
before are intact; deleting some makes room and uploads work again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests

from tests.faults.conftest import (
    SMALL_DISK_BYTES,
    assert_clean_problem,
    log_records,
    register_and_log_in,
    server_env,
)
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

FILE_SIZE = 384 * 1024
MAX_UPLOADS = 2 * SMALL_DISK_BYTES // FILE_SIZE  # bound: the disk is full long before


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_upload_to_a_full_disk_answers_507_and_leaves_nothing_half_written(
    small_disk: Path, tmp_path: Path
):
    log_path = tmp_path / "serve.log"
    env = server_env(
        f"sqlite:///{tmp_path / 'doable.sqlite3'}",
        tmp_path,
        DOABLE_UPLOAD_DIR=str(small_disk),
    )
    with running_server(env, log_path=log_path) as base:
        headers = {"Authorization": f"Bearer {register_and_log_in(base, 'alice')}"}
        task = requests.post(f"{base}/api/tasks", json={"title": "t"}, headers=headers, timeout=10)
        attachments = f"{base}/api/tasks/{task.json()['id']}/attachments"

        def upload(content: bytes, name: str) -> requests.Response:
            files = {"file": (name, content, "application/octet-stream")}
            return requests.post(attachments, files=files, headers=headers, timeout=30)

        kept: dict[int, bytes] = {}
        refused = None
        for number in range(MAX_UPLOADS):
            content = os.urandom(FILE_SIZE)
            answer = upload(content, f"part-{number}.bin")
            if answer.status_code != 201:
                refused = answer
                break
            kept[answer.json()["id"]] = content
        assert refused is not None, f"{MAX_UPLOADS} uploads of {FILE_SIZE} bytes all fit"
        assert 1 <= len(kept) < MAX_UPLOADS

        problem = assert_clean_problem(refused, 507)
        assert problem["title"] == "Insufficient Storage"
        # Nothing half-written: only the accepted files, none staged, no extra row
        files = stored_files(small_disk)
        assert len(files) == len(kept), files
        assert not list((small_disk / ".staging").iterdir())
        listed = requests.get(attachments, headers=headers, timeout=10).json()["attachments"]
        assert sorted(item["id"] for item in listed) == sorted(kept)
        for attachment_id, content in kept.items():  # the earlier files are intact
            body = requests.get(f"{attachments}/{attachment_id}", headers=headers, timeout=10)
            assert body.status_code == 200
            assert hashlib.sha256(body.content).digest() == hashlib.sha256(content).digest()

        # A small file does not fit either while the disk is full
        assert_clean_problem(upload(os.urandom(FILE_SIZE), "again.bin"), 507)

        # Make room: delete two attachments; uploads work again
        for attachment_id in list(kept)[:2]:
            deleted = requests.delete(f"{attachments}/{attachment_id}", headers=headers, timeout=10)
            assert deleted.status_code == 204
            del kept[attachment_id]
        small = upload(b"small file after making room", "small.txt")
        assert small.status_code == 201, small.text
        assert len(stored_files(small_disk)) == len(kept) + 1

    records = log_records(log_path)
    assert any(r["message"].startswith("attachment storage is full") for r in records)
    assert not [r for r in records if r["message"] == "unhandled error"]
    print(
        f"tmpfs {SMALL_DISK_BYTES} bytes: {len(kept) + 2} uploads of {FILE_SIZE} bytes fit, "
        "the next answered 507; none left behind; after deleting two a small upload is 201"
    )
