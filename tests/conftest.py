"""Fixtures, layered like the app: database_url -> app -> client / api / runner.

Every test that uses ``app`` runs once on SQLite and once on PostgreSQL. Without a
reachable PostgreSQL or Redis those tests skip with the reason; with ``CI=true`` a
missing service is a failure instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from doable import create_app
from doable.config import JWT_KEY_LABEL, derive_key
from doable.extensions import db
from doable.realtime.fanout import fanout
from tests.support.factories import HTTP_WAIT, Account, ApiClient
from tests.support.pages import Browser
from tests.support.receiver import Receiver
from tests.support.smtp import SmtpServer

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "DOABLE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("DOABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: A fixed random key: production-mode test servers refuse a guessable one.
TEST_SECRET = "FWGN0kQa3RGuDghlQ48Ce5maRi6VodTdUaWMoe9nuDWyWJFY"
#: What the test apps sign JWTs with: the key derived from TEST_SECRET (never TEST_SECRET).
TEST_JWT_KEY = derive_key(TEST_SECRET, JWT_KEY_LABEL)


def service_missing(reason: str) -> None:
    """Skip on a laptop; fail in CI, where every service must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: services must be available)")
    pytest.skip(reason)


def base_config(database_url: str, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "RATELIMIT_ENABLED": False,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        # Cheap hashes keep the suite fast; production uses argon2's defaults.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
        **overrides,
    }


@pytest.fixture(scope="session")
def postgres_admin_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        engine.dispose()
        service_missing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    yield engine
    engine.dispose()


def _create_postgres_database(admin: sa.Engine) -> tuple[str, str]:
    name = f"doable_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return name, admin.url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def empty_database_url(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    """A brand-new empty database of the backend under test, for migration tests."""
    if database_url.startswith("postgresql"):
        admin = request.getfixturevalue("postgres_admin_engine")
        name, url = _create_postgres_database(admin)
        yield url
        _drop_postgres_database(admin, name)
    else:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per backend for the whole session, migrated to head once."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'doable.sqlite3'}"
        _migrate(url, tmp_path_factory.mktemp("instance"))
        yield url
        return
    admin = request.getfixturevalue("postgres_admin_engine")
    name, url = _create_postgres_database(admin)
    _migrate(url, tmp_path_factory.mktemp("instance"))
    yield url
    _drop_postgres_database(admin, name)


def _migrate(url: str, tmp_path: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(base_config(url, tmp_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _empty_tables(app: Flask) -> None:
    """Leave the database as migrations made it, with id counters back at 1."""
    with app.app_context():
        tables = [t.name for t in db.metadata.sorted_tables]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                names = ", ".join(f'"{name}"' for name in tables)
                connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for name in reversed(tables):
                    connection.execute(sa.text(f'DELETE FROM "{name}"'))
                connection.execute(sa.text("DELETE FROM sqlite_sequence"))
        db.engine.dispose()


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Build apps on the test database with config overrides; tables are emptied after."""
    built: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app(base_config(database_url, tmp_path, **overrides))
        built.append(app)
        return app

    yield factory
    for app in built:  # its queued events read the tables about to be emptied
        fanout(app).drain(HTTP_WAIT)
    if built:
        _empty_tables(built[0])
        for app in built[1:]:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app()  # type: ignore[no-any-return]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(client: FlaskClient) -> ApiClient:
    return ApiClient(client)


@pytest.fixture
def alice(api: ApiClient) -> Account:
    return api.account("alice")


@pytest.fixture
def bob(api: ApiClient) -> Account:
    return api.account("bob")


@pytest.fixture
def carol(api: ApiClient) -> Account:
    return api.account("carol")


@pytest.fixture
def browse(app: Flask) -> Callable[..., Browser]:
    """``browse(alice)``: a new browser, logged in as alice (or nobody)."""

    def open_browser(account: Account | None = None) -> Browser:
        browser = Browser(app.test_client())
        if account is not None:
            browser.login(account)
        return browser

    return open_browser


def _recorded(app: Flask, event: str, position: int) -> Iterator[list[Any]]:
    """The argument at ``position`` of each of the engine's ``event`` while the test runs."""
    seen: list[Any] = []

    def record(*args: Any) -> None:
        seen.append(args[position])

    with app.app_context():
        sa.event.listen(db.engine, event, record)
        try:
            yield seen
        finally:
            sa.event.remove(db.engine, event, record)


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the test runs."""
    yield from _recorded(app, "before_cursor_execute", 2)


@pytest.fixture
def executed(app: Flask) -> Iterator[list[Any]]:
    """Every statement object the app executes (Core or ORM) while the test runs."""
    yield from _recorded(app, "before_execute", 1)


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    """The app's OpenAPI document."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json  # type: ignore[return-value]


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        service_missing(f"Redis is not reachable at {REDIS_TEST_URL}")
    yield REDIS_TEST_URL
    client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    prefix = f"doable-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 that keeps what it receives
    (tests/support/smtp.py); ``smtp.settings`` point an app at it."""
    running = SmtpServer()
    yield running
    running.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on 127.0.0.1 whose answers the test queues
    (tests/support/receiver.py)."""
    running = Receiver()
    yield running
    running.close()
