"""Pooled PostgreSQL connections that died while idle never reach a request
(``doable.db._ping_after_idling``), though a busy server no longer tests every one."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable import db as doable_db
from doable.extensions import db
from tests.support.factories import ApiClient


@pytest.fixture
def pg_app(make_app: Any, database_url: str) -> Flask:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file has no server connection to lose")
    return make_app()  # type: ignore[no-any-return]


def end_pooled_connections(app: Flask) -> int:
    """End, from outside, every server connection of the app's pool (as a database
    restart does); how many there were."""
    with app.app_context():
        url = db.engine.url
    outside = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with outside.connect() as conn:
            ended = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        outside.dispose()
    return int(ended)


@pytest.mark.parametrize("idle", [True, False])
def test_a_connection_that_died_while_idle_is_replaced_unseen(
    pg_app: Flask, monkeypatch: pytest.MonkeyPatch, idle: bool
) -> None:
    api = ApiClient(pg_app.test_client())
    alice = api.account("alice")
    assert api.get("/api/tasks", alice.token).status_code == 200  # its connection is pooled
    assert end_pooled_connections(pg_app) >= 1
    # Idle past the threshold (0: every connection counts as idle), or just used.
    monkeypatch.setattr(doable_db, "IDLE_BEFORE_PING", 0.0 if idle else 3600.0)

    answer = api.get("/api/tasks", alice.token)

    if idle:  # tested on its way out, found dead, replaced
        assert answer.status_code == 200
    else:  # not tested: the request finds it dead, answers 503, and the pool is renewed
        assert answer.status_code == 503
        assert api.get("/api/tasks", alice.token).status_code == 200
