"""An upload to a task the caller cannot edit is refused from its URL, before its body
is read: nobody can make the server receive a large file for someone else's task."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from tests.support.attachments import (
    MULTIPART,
    attachments_path,
    files_under,
    part_head,
    rows,
    upload_dir,
)
from tests.support.factories import PASSWORD
from tests.support.servers import running_server, server_env

DECLARED = 5_000_000  # under the upload limit; only the first KiB is ever sent
FIRST_PART = part_head('filename="big.bin"', "application/octet-stream") + b"x" * 1024


@pytest.fixture
def server(app: Flask, database_url: str, tmp_path: Path) -> Iterator[str]:
    """``doable serve`` on the test database (``app`` empties its tables after)."""
    env = server_env(database_url, tmp_path, DOABLE_UPLOAD_DIR=app.config["UPLOAD_DIR"])
    with running_server(env, log_path=tmp_path / "serve.log") as base:
        yield base


def account(base: str, name: str) -> str:
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    assert requests.post(f"{base}/api/register", json=body, timeout=10).status_code == 201
    login = requests.post(
        f"{base}/api/login", json={"username": name, "password": PASSWORD}, timeout=10
    )
    assert login.status_code == 200
    return str(login.json()["token"])


def call(base: str, token: str, method: str, path: str, **kwargs: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, f"{base}{path}", headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def status_of_partial_upload(base: str, token: str, path: str) -> int | None:
    """Send the headers of a large upload and its first KiB only; the status line the
    server answers with while the rest is still unsent (None: no answer in time)."""
    url = urlsplit(base)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {MULTIPART}\r\nContent-Length: {DECLARED}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head + FIRST_PART)
        received = b""
        try:
            while b"\r\n" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            return None
    return int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else None


def test_upload_to_a_task_the_caller_cannot_edit_is_refused_before_the_body(
    app: Flask, server: str
) -> None:
    alice, bob = account(server, "alice"), account(server, "bob")
    hidden = call(server, alice, "POST", "/api/tasks", json={"title": "Alice's"}).json()["id"]
    viewed = call(server, alice, "POST", "/api/tasks", json={"title": "Shared"}).json()["id"]
    shared = call(
        server,
        alice,
        "POST",
        f"/api/tasks/{viewed}/share",
        json={"username": "bob", "permission": "view"},
    )
    assert shared.status_code in (200, 201)

    assert status_of_partial_upload(server, bob, attachments_path(hidden)) == 404
    assert status_of_partial_upload(server, bob, attachments_path(999_999)) == 404
    assert status_of_partial_upload(server, bob, attachments_path(viewed)) == 403
    assert rows(app) == []
    assert files_under(upload_dir(app)) == []


@pytest.fixture
def one_connection_server(app: Flask, database_url: str, tmp_path: Path) -> Iterator[str]:
    """``doable serve`` with a single database connection to share."""
    env = server_env(
        database_url,
        tmp_path,
        DOABLE_UPLOAD_DIR=app.config["UPLOAD_DIR"],
        DOABLE_DB_POOL_SIZE="1",
        DOABLE_DB_MAX_OVERFLOW="0",
        DOABLE_DB_POOL_TIMEOUT="2",
    )
    with running_server(env, log_path=tmp_path / "serve.log") as base:
        yield base


def test_an_upload_whose_body_is_still_arriving_holds_no_database_connection(
    app: Flask, one_connection_server: str
) -> None:
    base = one_connection_server
    alice = account(base, "alice")
    task = call(base, alice, "POST", "/api/tasks", json={"title": "Slow upload"}).json()["id"]
    url = urlsplit(base)
    head = (
        f"POST {attachments_path(task)} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {alice}\r\nContent-Type: {MULTIPART}\r\n"
        f"Content-Length: {DECLARED}\r\n\r\n"
    ).encode()
    slow = [socket.create_connection((url.hostname, url.port), timeout=10) for _ in range(3)]
    try:
        for sock in slow:  # allowed uploads, their bodies still on the way
            sock.sendall(head + FIRST_PART)
        for _ in slow:  # meanwhile each passed its access check; the server awaits its body
            assert call(base, alice, "GET", f"/api/tasks/{task}").status_code == 200

        listed = call(base, alice, "GET", "/api/tasks")
    finally:
        for sock in slow:
            sock.close()

    assert listed.status_code == 200, listed.text
