"""The ``doable`` command: create-user, db upgrade, and serve as a real process."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from doable.auth.models import User
from doable.extensions import db
from tests.conftest import TEST_SECRET
from tests.servers import DOABLE, running_server


def server_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "DOABLE_INSTANCE_PATH": str(tmp_path / "instance"),
        "DOABLE_ARGON2_TIME_COST": "1",
        "DOABLE_ARGON2_MEMORY_COST": "1024",
        "DOABLE_ARGON2_PARALLELISM": "1",
        "REDIS_URL": "",
        **extra,
    }


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


def serve_refused(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``doable serve`` with options it must refuse (exit 2, usage error)."""
    done = subprocess.run(
        [DOABLE, "serve", *args],
        env={**server_env(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path), "PATH": "/usr/bin"},
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


def test_serve_refuses_fewer_connections_than_threads(tmp_path: Path):
    done = serve_refused(tmp_path, "--threads", "16", "--worker-connections", "8")
    assert "--worker-connections (8) must be at least --threads (16)" in done.stderr


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
    assert "gthread" in log
    assert "rid=" in log
