"""A database that is away is a 503 with ``Retry-After``, not a 500:
down, restarting, unreachable, out of connection slots, or SQLite locked past its busy
timeout. A broken query stays a 500. ``tests/faults`` restarts a real PostgreSQL under
traffic; these are the fast, in-process checks of the rule."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from doable import create_app
from doable.errors import DATABASE_RETRY_AFTER, database_unavailable
from doable.extensions import csrf, db
from tests.conftest import base_config
from tests.support.calendar_feed import LOGGED_FEED_PATH, assert_feed_token_cut
from tests.support.factories import PASSWORD, assert_problem

UNREACHABLE_POSTGRES = "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none"


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


UNAVAILABLE = {
    "connection refused": OperationalError(
        "SELECT 1", {}, psycopg.OperationalError("connection failed: Connection refused")
    ),
    "server closed the connection": OperationalError(
        "SELECT 1", {}, psycopg.OperationalError("server closed the connection unexpectedly")
    ),
    "admin shutdown": OperationalError(
        "SELECT 1", {}, psycopg.errors.AdminShutdown("terminating connection")
    ),
    "starting up": OperationalError(
        "SELECT 1", {}, psycopg.errors.CannotConnectNow("the database system is starting up")
    ),
    "too many connections": OperationalError(
        "SELECT 1", {}, psycopg.errors.TooManyConnections("too many clients already")
    ),
    "invalidated mid-query": DBAPIError(
        "SELECT 1",
        {},
        psycopg.InterfaceError("the connection is lost"),
        connection_invalidated=True,
    ),
    "sqlite busy": OperationalError("SELECT 1", {}, sqlite_error("database is locked", 5)),
    "sqlite locked, extended code": OperationalError(
        "SELECT 1", {}, sqlite_error("database table is locked", 6 | (1 << 8))
    ),
}
BROKEN_QUERY = {
    "query cancelled by statement_timeout": OperationalError(
        "SELECT 1", {}, psycopg.errors.QueryCanceled("canceling statement due to timeout")
    ),
    "undefined table": ProgrammingError(
        "SELECT 1", {}, psycopg.errors.UndefinedTable("relation does not exist")
    ),
    "sqlite no such table": OperationalError("SELECT 1", {}, sqlite_error("no such table: x", 1)),
    "sqlite error without a code": OperationalError(
        "SELECT 1", {}, sqlite3.OperationalError("no such table: x")
    ),
}


@pytest.mark.parametrize("error", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
def test_database_unavailable_recognises_a_database_that_is_away(error: DBAPIError) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize("error", BROKEN_QUERY.values(), ids=BROKEN_QUERY.keys())
def test_database_unavailable_does_not_excuse_a_broken_query(error: DBAPIError) -> None:
    assert not database_unavailable(error)


def _raiser(error: Exception):  # type: ignore[no-untyped-def]
    @csrf.exempt
    def view() -> None:
        raise error

    return view


@pytest.fixture
def failing_app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app: Flask = make_app()
    app.add_url_rule(
        "/api/_away", "away", _raiser(UNAVAILABLE["server closed the connection"]), methods=["GET"]
    )
    app.add_url_rule(
        "/api/_broken", "broken", _raiser(BROKEN_QUERY["undefined table"]), methods=["GET"]
    )
    return app


def test_api_request_while_database_is_away_returns_503_with_retry_after(
    failing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "doable.errors"):
        response = failing_app.test_client().get("/api/_away")

    problem = assert_problem(response, 503)
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert "unavailable" in problem["detail"]
    assert "server closed" not in response.get_data(as_text=True)  # no internals
    assert "database unavailable" in caplog.text
    assert "unhandled error" not in caplog.text


def test_api_request_with_a_broken_query_is_still_a_500(
    failing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "doable.errors"):
        response = failing_app.test_client().get("/api/_broken")

    assert_problem(response, 500)
    assert "Retry-After" not in response.headers
    assert "unhandled error" in caplog.text


def test_login_against_an_unreachable_database_returns_503_without_secrets(
    tmp_path: Path,
) -> None:
    app = create_app(base_config(UNREACHABLE_POSTGRES, tmp_path))
    try:
        response = app.test_client().post(
            "/api/login", json={"username": "alice", "password": PASSWORD}
        )

        assert_problem(response, 503)
        assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
        assert "hunter2" not in response.get_data(as_text=True)
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_feed_request_while_the_database_is_away_logs_no_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A calendar feed's URL is its credential: the warning names the path with the
    token cut to its prefix, as the access line does."""
    app = create_app(base_config(UNREACHABLE_POSTGRES, tmp_path))
    try:
        with caplog.at_level(logging.INFO, "doable"):
            response = app.test_client().get(LOGGED_FEED_PATH)

        assert_problem(response, 503)
        assert_feed_token_cut(caplog.text, "database unavailable")
    finally:
        with app.app_context():
            db.engine.dispose()
