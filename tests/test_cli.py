"""The ``doable`` command: create-user, db upgrade, and serve as a real process."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from doable.auth.models import User
from doable.extensions import db
from tests.support.servers import (
    DOABLE,
    accepted,
    logged,
    running_server,
    server_env,
    start_server,
    stop_server,
    wait_for,
)


def test_create_user_with_password_on_stdin_creates_a_working_account(app, runner, api):
    result = runner.invoke(
        args=[
            "create-user",
            "--username",
            "carol",
            "--email",
            "carol@example.com",
            "--password-stdin",
        ],
        input="s3cret-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created user carol" in result.output
    login = api.login(username="carol", password="s3cret-password")
    assert login.status_code == 200


def test_create_user_duplicate_username_fails_with_message(app, runner, api):
    api.register("dave")
    result = runner.invoke(
        args=["create-user", "--username", "DAVE", "--email", "d2@example.com", "--password-stdin"],
        input="another-password\n",
    )
    assert result.exit_code == 1
    assert "already taken" in result.output
    with app.app_context():
        assert db.session.query(User).count() == 1


def test_create_user_invalid_email_fails_and_stores_nothing(app, runner):
    result = runner.invoke(
        args=["create-user", "--username", "erin", "--email", "not-an-email", "--password-stdin"],
        input="long-enough-password\n",
    )
    assert result.exit_code == 1
    assert "email" in result.output
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_db_upgrade_creates_the_schema(empty_database_url: str, tmp_path: Path):
    done = subprocess.run(
        [DOABLE, "db", "upgrade"],
        env={**server_env(empty_database_url, tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    engine = sa.create_engine(empty_database_url)
    try:
        assert {"user", "auth_session", "alembic_version"} <= set(
            sa.inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def serve_refused(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``doable serve`` with options it must refuse (exit 2, usage error)."""
    database_url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    done = subprocess.run(
        [DOABLE, "serve", *args],
        env={**server_env(database_url, tmp_path, **(env or {})), "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    return done


def test_serve_with_several_workers_and_no_redis_is_refused(tmp_path: Path):
    done = serve_refused(tmp_path, "--workers", "2")
    assert "REDIS_URL" in done.stderr
    assert not (tmp_path / "x.sqlite3").exists() or (tmp_path / "x.sqlite3").stat().st_size == 0


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["serve", "--port", "5001"], "serve"),
        (["-e", ".env", "serve"], "serve"),
        (["--app", "serve", "db", "upgrade"], "db"),
        (["create-user", "--username", "serve"], "create-user"),
        (["--help"], None),
    ],
)
def test_only_serve_is_patched_for_gevent(args: list[str], command: str | None):
    from doable.__main__ import command_of

    assert command_of(args) == command


def test_serve_with_several_workers_refuses_long_polling(tmp_path: Path):
    """Polling sessions cannot be pinned to one of several workers sharing a port."""
    done = serve_refused(tmp_path, "--workers", "2", env={"REDIS_URL": "redis://127.0.0.1:9"})
    assert "long-polling" in done.stderr
    assert "DOABLE_REALTIME_TRANSPORTS=websocket" in done.stderr


@pytest.mark.slow
def test_serve_migrates_a_fresh_database_and_answers_over_http(
    empty_database_url: str, tmp_path: Path
):
    env = server_env(empty_database_url, tmp_path)
    with running_server(env, log_path=tmp_path / "serve.log") as base:
        registered = requests.post(
            f"{base}/api/register",
            json={"username": "alice", "email": "alice@example.com", "password": "secret123"},
            timeout=10,
        )
        assert registered.status_code == 201
        assert registered.json() == {"message": "User created successfully", "user_id": 1}
        assert registered.headers["X-Request-Id"]
        login = requests.post(
            f"{base}/api/login",
            json={"email": "alice@example.com", "password": "secret123"},
            timeout=10,
        )
        me = requests.get(
            f"{base}/api/me",
            headers={"Authorization": f"Bearer {login.json()['token']}"},
            timeout=10,
        )
        assert me.json()["username"] == "alice"
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
    log = (tmp_path / "serve.log").read_text()
    assert "Using worker: doable.server.Worker" in log  # gunicorn gevent, closing sockets on exit
    request_id = registered.headers["X-Request-Id"]
    assert f"[{request_id}] doable.access: POST /api/register 201" in log
    assert "doable.access: GET /api/me 200" in log
    assert "user=1" in log


@pytest.mark.slow
def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path):
    """Graceful shutdown: an upload still arriving when SIGTERM comes is completed and
    answered, then the server exits cleanly."""
    env = server_env(f"sqlite:///{tmp_path / 'doable.sqlite3'}", tmp_path)
    process, base = start_server(env, log_path=tmp_path / "serve.log")
    try:
        body = {"username": "alice", "email": "alice@example.com", "password": "secret123"}
        requests.post(f"{base}/api/register", json=body, timeout=10).raise_for_status()
        credentials = {"username": "alice", "password": "secret123"}
        login = requests.post(f"{base}/api/login", json=credentials, timeout=10).json()
        auth = {"Authorization": f"Bearer {login['token']}"}
        task = requests.post(f"{base}/api/tasks", json={"title": "t"}, headers=auth, timeout=10)
        boundary = "doable-test-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        content, tail = b"x" * 200_000, f"\r\n--{boundary}--\r\n".encode()
        connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), 10)
        connection.putrequest("POST", f"/api/tasks/{task.json()['id']}/attachments")
        connection.putheader("Authorization", auth["Authorization"])
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + len(content) + len(tail)))
        connection.endheaders()
        connection.send(head + content[:1000])
        # A worker holds the request (it is off the listen queue) and reads its body...
        wait_for(accepted(connection.sock), "the request accepted by a worker")
        os.killpg(process.pid, signal.SIGTERM)
        # ...and the rest of the body arrives once the shutdown is under way.
        wait_for(logged(tmp_path / "serve.log", "Handling signal: term"), "shutdown begun")
        connection.send(content[1000:] + tail)
        response = connection.getresponse()
        status, answer = response.status, response.read()
        connection.close()

        assert status == 201, answer
        assert json.loads(answer)["size"] == len(content)
        assert process.wait(timeout=15) == 0
    finally:
        stop_server(process)


@pytest.mark.slow
def test_production_server_logs_only_json_lines(tmp_path: Path):
    env = server_env(f"sqlite:///{tmp_path / 'doable.sqlite3'}", tmp_path, DOABLE_ENV="production")
    log_path = tmp_path / "serve.log"
    with running_server(env, log_path=log_path) as base:
        requests.get(f"{base}/api/tasks", timeout=10)
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "doable.access"]
    assert {(r["method"], r["path"], r["status"]) for r in access} >= {("GET", "/api/tasks", 401)}
    assert any(
        r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records
    )


@pytest.mark.slow
def test_sigterm_closes_open_sockets_instead_of_waiting_for_them(tmp_path: Path):
    """An open Socket.IO connection holds a worker thread; shutting down closes it
    (the client reconnects elsewhere) rather than waiting out the graceful timeout."""
    from tests.support.realtime import listen, new_user

    env = server_env(f"sqlite:///{tmp_path / 'doable.sqlite3'}", tmp_path)
    process, base = start_server(env, log_path=tmp_path / "serve.log")
    try:
        listener = listen(new_user(base))
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10  # the graceful timeout is 30 s
        assert listener.disconnected.wait(5)
    finally:
        stop_server(process)
