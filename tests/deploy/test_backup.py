"""docs/deploy.md's backup and restore, run once as written: pg_dump + tar of the upload
folder from a live server, restored into a new database and folder, served again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.support.factories import Account
from tests.support.realtime import log_in, new_user
from tests.support.servers import DOABLE, running_server, server_env

pytestmark = pytest.mark.slow


def _env(database_url: str, folder: Path) -> dict[str, str]:
    uploads = str(folder / "uploads")
    return server_env(database_url, folder, DOABLE_ENV="production", DOABLE_UPLOAD_DIR=uploads)


def _run(*command: str, env: dict[str, str] | None = None) -> None:
    import os

    done = subprocess.run(
        command, env={**os.environ, **(env or {})}, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()


def _state(user: Account, base: str) -> dict:
    """Everything the user can read: their task list, and the bytes of each attachment."""
    tasks = user.call("GET", "/api/tasks?sort=title", base=base).json()["tasks"]
    files = {}
    for task in tasks:
        path = f"/api/tasks/{task['id']}/attachments"
        for item in user.call("GET", path, base=base).json()["attachments"]:
            files[item["filename"]] = user.call("GET", f"{path}/{item['id']}", base=base).content
    return {"tasks": tasks, "files": files}


def test_a_dump_and_an_archive_restore_everything(postgres_admin_engine, tmp_path: Path):
    made = []
    try:
        for _ in range(2):
            made.append(_create_postgres_database(postgres_admin_engine))
        (_, source_url), (_, target_url) = made
        plain_source = source_url.replace("postgresql+psycopg://", "postgresql://")
        plain_target = target_url.replace("postgresql+psycopg://", "postgresql://")
        live, restored = tmp_path / "live", tmp_path / "restored"

        with running_server(_env(source_url, live), log_path=tmp_path / "live.log") as base:
            alice, bob = new_user(base), new_user(base)
            task = alice.call("POST", "/api/tasks", json={"title": "Keep", "categories": ["x"]})
            task_id = task.json()["id"]
            alice.call("POST", "/api/tasks", json={"title": "Also keep"})
            share = {"username": bob.username, "permission": "view"}
            alice.call("POST", f"/api/tasks/{task_id}/share", json=share)
            content = bytes(range(256)) * 40
            upload = alice.call(
                "POST",
                f"/api/tasks/{task_id}/attachments",
                files={"file": ("data.bin", content, "application/octet-stream")},
            )
            assert upload.status_code == 201, upload.text
            before = {"alice": _state(alice, base), "bob": _state(bob, base)}

            # Back up, as docs/deploy.md says: the dump first, then the files.
            dump, archive = tmp_path / "doable.dump", tmp_path / "uploads.tar.gz"
            _run("pg_dump", "--format=custom", f"--file={dump}", plain_source)
            _run("tar", "-C", str(live), "-czf", str(archive), "uploads")

        # Restore into an empty database and folder, then start as usual.
        restored.mkdir()
        _run("pg_restore", "--no-owner", f"--dbname={plain_target}", str(dump))
        _run("tar", "-C", str(restored), "-xzf", str(archive))
        _run(DOABLE, "db", "upgrade", env=_env(target_url, restored))
        _run(DOABLE, "attachments", "gc", env=_env(target_url, restored))

        with running_server(_env(target_url, restored), log_path=tmp_path / "new.log") as base:
            alice_again = log_in(base, alice.username, alice.id)
            bob_again = log_in(base, bob.username, bob.id)
            after = {"alice": _state(alice_again, base), "bob": _state(bob_again, base)}
            created = alice_again.call("POST", "/api/tasks", json={"title": "New after restore"})
            assert created.status_code == 201
            assert created.json()["id"] > task_id  # identity sequences came back too

        assert after == before
        assert before["alice"]["files"] == {"data.bin": content}
        assert [t["title"] for t in before["bob"]["tasks"]] == ["Keep"]
    finally:
        for name, _ in made:
            _drop_postgres_database(postgres_admin_engine, name)
