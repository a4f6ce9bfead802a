"""Real deployments for the real-time tests, one per module and backend:

- ``sqlite``: one ``doable serve`` process on SQLite, no Redis;
- ``postgresql``: two ``doable serve`` instances (the first with two gunicorn workers)
  on one PostgreSQL database and one Redis, so every event a test waits for crosses
  processes: clients listen on the first instance, changes go through the last.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import (
    REDIS_TEST_URL,
    _create_postgres_database,
    _drop_postgres_database,
    service_missing,
)
from tests.support.servers import running_server, server_env


@dataclass
class Deployment:
    backend: str
    urls: list[str]
    logs: list[Path]
    database_url: str
    #: The Redis keys' prefix, when the processes share Redis.
    redis_prefix: str | None = None

    @property
    def listen_url(self) -> str:
        return self.urls[0]

    @property
    def change_url(self) -> str:
        return self.urls[-1]


def _env(database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    return server_env(
        database_url,
        folder,
        **{
            "DOABLE_ENV": "production",
            "DOABLE_RATELIMIT_ENABLED": "false",
            "DOABLE_REALTIME_ALLOWED_ORIGINS": "https://tasks.example.org",
            "DOABLE_REALTIME_SESSION_CHECK": "1",
            **extra,
        },
    )


def _redis_available() -> None:
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        service_missing(f"Redis is not reachable at {REDIS_TEST_URL}")
    finally:
        client.close()


def _forget_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def shared_services(request: pytest.FixtureRequest, stack: ExitStack) -> tuple[str, str]:
    """A fresh PostgreSQL database and a Redis key prefix of its own for a production
    layout; both are dropped when ``stack`` closes. (database URL, prefix)"""
    admin = request.getfixturevalue("postgres_admin_engine")
    _redis_available()
    name, database_url = _create_postgres_database(admin)
    stack.callback(_drop_postgres_database, admin, name)
    prefix = f"doable-test-{uuid.uuid4().hex[:12]}"
    stack.callback(_forget_prefix, prefix)
    return database_url, prefix


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("realtime")
    with ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{tmp / 'doable.sqlite3'}"
            env = _env(database_url, tmp)
            log = tmp / "serve.log"
            url = stack.enter_context(running_server(env, log_path=log))
            yield Deployment("sqlite", [url], [log], database_url)
            return
        database_url, prefix = shared_services(request, stack)
        env = _env(
            database_url,
            tmp,
            REDIS_URL=REDIS_TEST_URL,
            DOABLE_REDIS_PREFIX=prefix,
            DOABLE_REALTIME_TRANSPORTS="websocket",  # the first has two workers on one port
        )
        urls, logs = [], []
        for index, args in enumerate((["--workers", "2"], [])):
            log = tmp / f"serve-{index}.log"
            urls.append(stack.enter_context(running_server(env, *args, log_path=log)))
            logs.append(log)
        yield Deployment("postgresql", urls, logs, database_url, prefix)
