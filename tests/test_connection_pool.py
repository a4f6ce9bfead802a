"""Each request holds at most one database connection, and a request that cannot get
one in time is a 503 to retry, not a 500; pooled connections that died while idle never
reach a request (``doable.db._ping_after_idling``), though a busy server no longer tests
every one (PostgreSQL: SQLite has no connection limit worth the name, nor a server
connection to lose)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from flask import Flask

from doable import db as doable_db
from doable.extensions import db
from tests.support.calendar_feed import LOGGED_FEED_PATH, assert_feed_token_cut
from tests.support.factories import ApiClient, assert_problem
from tests.support.realtime import sent


@pytest.fixture
def tight_app(make_app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the connection pool is PostgreSQL's: a SQLite file has no server connections")
    return make_app(DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=1)


def test_a_write_that_notifies_sharees_needs_only_one_connection(tight_app):
    from tests.support.factories import ApiClient

    api = ApiClient(tight_app.test_client())
    alice, bob = api.account("alice"), api.account("bob")
    task = api.post("/api/tasks", alice.token, json={"title": "t"}).json
    body = {"username": bob.username, "permission": "view"}
    assert api.post(f"/api/tasks/{task['id']}/share", alice.token, json=body).status_code == 201
    sent(tight_app)  # the share's event, before bob listens
    to_bob = tight_app.extensions["socketio"].test_client(tight_app, auth={"token": bob.token})

    response = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "renamed"})

    assert response.status_code == 200, response.json
    sent(tight_app)  # the event is read and sent after the request, through the same pool
    received = to_bob.get_received()
    assert [(m["name"], m["args"][0]["title"]) for m in received] == [("task_updated", "renamed")]


def test_no_free_connection_in_time_is_503_with_retry_after(tight_app):
    from tests.support.factories import ApiClient

    api = ApiClient(tight_app.test_client())
    alice = api.account("alice")
    with tight_app.app_context(), db.engine.connect() as held:  # the pool's only one
        held.execute(sa.text("SELECT 1"))
        response = api.get("/api/me", alice.token)
    body = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"
    assert "too busy" in body["detail"]


def test_no_free_connection_for_a_feed_logs_no_token(tight_app, caplog):
    """A calendar feed's URL is its credential: the warning cuts the token to its prefix."""
    with tight_app.app_context(), db.engine.connect() as held:  # the pool's only one
        held.execute(sa.text("SELECT 1"))
        with caplog.at_level(logging.INFO, "doable"):
            response = tight_app.test_client().get(LOGGED_FEED_PATH)
    assert_problem(response, 503)
    assert_feed_token_cut(caplog.text, "within the pool timeout")


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
    tight_app: Flask, monkeypatch: pytest.MonkeyPatch, idle: bool
) -> None:
    api = ApiClient(tight_app.test_client())
    alice = api.account("alice")
    assert api.get("/api/tasks", alice.token).status_code == 200  # its connection is pooled
    assert end_pooled_connections(tight_app) >= 1
    # Idle past the threshold (0: every connection counts as idle), or just used.
    monkeypatch.setattr(doable_db, "IDLE_BEFORE_PING", 0.0 if idle else 3600.0)

    answer = api.get("/api/tasks", alice.token)

    if idle:  # tested on its way out, found dead, replaced
        assert answer.status_code == 200
    else:  # not tested: the request finds it dead, answers 503, and the pool is renewed
        assert answer.status_code == 503
        assert api.get("/api/tasks", alice.token).status_code == 200
