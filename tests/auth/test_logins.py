"""The logins a process keeps (``doable.auth.logins``): a revocation made through one
process is refused by every other at once, on its very next request.

Two apps on one database and one Redis stand for two processes: each has its own
cache, as each process does. The other door to the same proof, two real ``doable
serve`` processes, is in tests/deploy/test_scale_out.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from doable.auth.logins import MAX_ENTRIES, Logins, logins
from doable.auth.models import User
from doable.db import utcnow
from doable.extensions import db
from tests.auth.test_tokens import assert_unauthorized, claims_of
from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser

NEW_PASSWORD = "another long passphrase"


@dataclass
class Process:
    app: Flask
    api: ApiClient

    def login_checks(self, call: Callable[[], Any]) -> int:
        """How many statements ``call`` ran that read a login session."""
        seen: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        with self.app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", record)
            try:
                call()
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", record)
        return sum("auth_session" in statement for statement in seen)

    def keeps(self, account: Account) -> bool:
        """Whether this process answers ``account`` without reading its login session
        (after one request that does)."""
        assert self.api.get("/api/me", account.token).status_code == 200
        return self.login_checks(lambda: self.api.get("/api/me", account.token)) == 0


@pytest.fixture
def processes(
    make_app: Callable[..., Flask], redis_url: str, redis_prefix: str
) -> tuple[Process, Process]:
    """Two apps sharing the test database and a Redis prefix."""
    apps = [make_app(REDIS_URL=redis_url, REDIS_PREFIX=redis_prefix) for _ in range(2)]
    first, second = (Process(app, ApiClient(app.test_client())) for app in apps)
    return first, second


@pytest.fixture
def redis_keys(redis_url: str, redis_prefix: str) -> Iterator[Callable[[], list[bytes]]]:
    client = redis.Redis.from_url(redis_url)
    yield lambda: list(client.scan_iter(f"{redis_prefix}:logins:*"))
    client.close()


def test_a_login_checked_once_is_not_read_again_by_that_process(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    alice = first.api.account("alice")

    assert first.login_checks(lambda: first.api.get("/api/me", alice.token)) == 1
    assert first.login_checks(lambda: first.api.get("/api/me", alice.token)) == 0
    assert second.login_checks(lambda: second.api.get("/api/me", alice.token)) == 1


def _logout(api: ApiClient, account: Account) -> None:
    assert api.post("/api/logout", account.token).status_code == 204


def _change_password(api: ApiClient, account: Account) -> None:
    body = {"current_password": account.password, "password": NEW_PASSWORD}
    assert api.patch("/api/me", account.token, json=body).status_code == 200


def _delete_account(api: ApiClient, account: Account) -> None:
    body = {"current_password": account.password}
    assert api.delete("/api/me", account.token, json=body).status_code == 204


def _reuse_refresh_token(api: ApiClient, account: Account) -> None:
    body = {"refresh_token": account.refresh_token}
    assert api.post("/api/token/refresh", json=body).status_code == 200
    assert api.post("/api/token/refresh", json=body).status_code == 401


@pytest.mark.parametrize(
    "revoke",
    [_logout, _change_password, _delete_account, _reuse_refresh_token],
    ids=["logout", "password change", "account deleted", "refresh token reused"],
)
def test_a_revocation_through_one_process_is_refused_by_the_other_at_once(
    processes: tuple[Process, Process], revoke: Callable[[ApiClient, Account], None]
) -> None:
    first, second = processes
    alice = first.api.account("alice")
    assert second.keeps(alice)

    revoke(first.api, alice)

    assert second.api.get("/api/me", alice.token).status_code == 401


@pytest.mark.parametrize(
    ("revoke", "other_login"),
    [(_logout, 200), (_change_password, 401)],
    ids=["logout ends this login only", "password change ends every login"],
)
def test_a_revocation_ends_the_logins_it_names_and_only_those_everywhere(
    processes: tuple[Process, Process],
    revoke: Callable[[ApiClient, Account], None],
    other_login: int,
) -> None:
    first, second = processes
    alice = first.api.account("alice")
    phone = first.api.login(username=alice.username, password=alice.password).json["token"]
    assert second.keeps(alice)
    assert second.api.get("/api/me", phone).status_code == 200

    revoke(first.api, alice)

    assert second.api.get("/api/me", alice.token).status_code == 401
    assert second.api.get("/api/me", phone).status_code == other_login


def test_a_revocation_committed_during_a_check_leaves_nothing_kept(
    processes: tuple[Process, Process],
) -> None:
    """The other process read the login as live just before the logout committed: what
    it keeps from that read must not outlive the logout."""
    first, second = processes
    alice = first.api.account("alice")
    session_id = claims_of(alice.token)["sid"]
    with second.app.app_context():
        username, stamp = logins().lookup(alice.id, session_id)  # its check begins
    assert username is None
    assert stamp is not None

    _logout(first.api, alice)  # commits while the check is under way

    with second.app.app_context():  # the check read the row before the commit
        user = User(id=alice.id, username=alice.username)
        logins().keep(user, session_id, utcnow() + timedelta(days=1), stamp)
    assert second.api.get("/api/me", alice.token).status_code == 401


@pytest.mark.parametrize(
    "revoke",
    [_logout, _change_password, _delete_account, _reuse_refresh_token],
    ids=["logout", "password change", "account deleted", "refresh token reused"],
)
def test_a_revocation_raises_its_user_s_counter_once(
    processes: tuple[Process, Process],
    revoke: Callable[[ApiClient, Account], None],
    redis_url: str,
    redis_prefix: str,
) -> None:
    """One channel carries every revocation (the ``sessions_revoked`` signal): the
    account deleted is also a row the ORM deletes, and must not be announced twice."""
    first, second = processes
    alice = first.api.account("alice")
    assert second.keeps(alice)
    client = redis.Redis.from_url(redis_url)
    counter = f"{redis_prefix}:logins:revoked:{alice.id}"
    try:
        before = int(client.get(counter) or 0)
        revoke(first.api, alice)
        raised = int(client.get(counter) or 0) - before
    finally:
        client.close()

    assert raised == 1


def _read_account(api: ApiClient, account: Account) -> TestResponse:
    return api.get("/api/me", account.token)


def _create_task(api: ApiClient, account: Account) -> TestResponse:
    return api.post("/api/tasks", account.token, json={"title": "After"})


@pytest.mark.parametrize("call", [_read_account, _create_task], ids=["read", "write"])
def test_a_kept_login_whose_account_was_deleted_unannounced_is_refused(
    make_app: Callable[..., Flask],
    processes: tuple[Process, Process],
    redis_prefix: str,
    call: Callable[[ApiClient, Account], TestResponse],
) -> None:
    """The process that deleted the account could not reach Redis to raise the counter:
    the others still keep the login, and the caller's row is missing when the request
    first reads one of its columns. That is the token refused, not a fault; and the
    process that found it out announces the revocation, so the others refuse at once."""
    deleting = make_app(REDIS_URL="redis://127.0.0.1:9/0", REDIS_PREFIX=redis_prefix)
    first, second = processes
    alice = first.api.account("alice")
    assert first.keeps(alice)
    assert second.keeps(alice)
    _delete_account(ApiClient(deleting.test_client()), alice)

    response = call(first.api, alice)

    assert_unauthorized(response)
    assert response.get_json()["detail"] == "Token has been revoked"
    assert second.login_checks(lambda: second.api.get("/api/me", alice.token)) == 1


def test_a_kept_web_login_whose_account_was_deleted_unannounced_is_signed_out(
    make_app: Callable[..., Flask], processes: tuple[Process, Process], redis_prefix: str
) -> None:
    """The same through the cookie door: the page sends its visitor to log in."""
    deleting = make_app(REDIS_URL="redis://127.0.0.1:9/0", REDIS_PREFIX=redis_prefix)
    first, _ = processes
    alice = first.api.account("alice")
    browser = Browser(first.app.test_client())
    browser.login(alice)
    assert browser.get("/account").status_code == 200
    _delete_account(ApiClient(deleting.test_client()), alice)

    response = browser.get("/account")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert browser.session() == {}


def test_redis_losing_its_keys_voids_every_kept_login(
    processes: tuple[Process, Process], redis_url: str, redis_keys: Callable[[], list[bytes]]
) -> None:
    """Redis restarted empty: a revocation counter may have been lost with it."""
    first, second = processes
    alice = first.api.account("alice")
    assert second.keeps(alice)
    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(*redis_keys())
    finally:
        client.close()

    assert second.login_checks(lambda: second.api.get("/api/me", alice.token)) == 1


def test_without_redis_a_process_that_cannot_reach_it_checks_the_database(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(REDIS_URL="redis://127.0.0.1:9/0")  # nothing listens there
    process = Process(app, ApiClient(app.test_client()))
    alice = process.api.account("alice")

    checks = [process.login_checks(lambda: process.api.get("/api/me", alice.token)) for _ in "ab"]

    assert checks == [1, 1]


# The cache itself, in one process without Redis.


def _user(user_id: int) -> User:
    return User(id=user_id, username=f"user{user_id}")


def test_a_login_is_kept_no_later_than_its_session_expires() -> None:
    cache = Logins(None, "test", max_age=60)
    for session_id, expires_at in [("live", utcnow() + timedelta(seconds=5)), ("ended", utcnow())]:
        _, stamp = cache.lookup(1, session_id)
        assert stamp is not None
        cache.keep(_user(1), session_id, expires_at, stamp)

    assert cache.lookup(1, "live")[0] == "user1"
    assert cache.lookup(1, "ended")[0] is None


def test_a_login_is_kept_at_most_max_age_seconds() -> None:
    now = [100.0]
    cache = Logins(None, "test", max_age=30, clock=lambda: now[0])
    _, stamp = cache.lookup(1, "s")
    assert stamp is not None
    cache.keep(_user(1), "s", utcnow() + timedelta(days=1), stamp)

    now[0] = 129.9
    assert cache.lookup(1, "s")[0] == "user1"
    now[0] = 130.0
    assert cache.lookup(1, "s")[0] is None


def test_the_oldest_logins_go_first_beyond_max_entries() -> None:
    cache = Logins(None, "test", max_age=60)
    expires_at = utcnow() + timedelta(days=1)
    for user_id in range(1, MAX_ENTRIES + 2):
        _, stamp = cache.lookup(user_id, "s")
        assert stamp is not None
        cache.keep(_user(user_id), "s", expires_at, stamp)

    assert cache.lookup(1, "s")[0] is None
    assert cache.lookup(2, "s")[0] == "user2"
    assert cache.lookup(MAX_ENTRIES + 1, "s")[0] == f"user{MAX_ENTRIES + 1}"


def test_one_process_keeps_nothing_from_a_check_a_revocation_overtook() -> None:
    cache = Logins(None, "test", max_age=60)
    _, stamp = cache.lookup(1, "s")
    assert stamp is not None

    cache.revoke(1)
    cache.keep(_user(1), "s", utcnow() + timedelta(days=1), stamp)

    assert cache.lookup(1, "s")[0] is None
