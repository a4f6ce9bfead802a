"""Failed logins slow an account down, whichever addresses they come from; IPv6 clients
are limited per /64."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from doable.auth.models import User
from doable.auth.service import find_user
from doable.auth.throttle import KNOWN_NETWORKS, claim_login_attempt
from doable.errors import ProblemType
from doable.extensions import db
from tests.support.factories import PASSWORD, assert_problem
from tests.support.pages import Browser

THROTTLE = {
    "RATELIMIT_ENABLED": True,
    "AUTH_RATE_LIMIT": "1000 per minute",  # the per-address limit stays out of the way
    "LOGIN_FREE_ATTEMPTS": 3,
    "LOGIN_DELAY": 60,
    "LOGIN_MAX_DELAY": 200,
}


def _register(app: Flask, username: str = "alice") -> None:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    assert app.test_client().post("/api/register", json=body).status_code == 201


WRONG = "wrong password"


def _login(app: Flask, n: int, password: str = WRONG, **name: str):
    """A login from its own address (one of many a guesser might use)."""
    environ = {"REMOTE_ADDR": f"203.0.113.{n % 250 + 1}"}
    return app.test_client().post(
        "/api/login",
        json={**(name or {"username": "alice"}), "password": password},
        environ_base=environ,
    )


def _failures(app: Flask) -> tuple[int, bool]:
    with app.app_context():
        row = db.session.execute(
            select(User.login_failures, User.login_failed_at).where(User.username == "alice")
        ).one()
        return row[0], row[1] is not None


def _time_passes(app: Flask, seconds: int) -> None:
    """Move the last counted attempt ``seconds`` into the past (no sleeping)."""
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "alice")).scalar_one()
        earlier = user.login_failed_at - timedelta(seconds=seconds)
        db.session.execute(update(User).where(User.id == user.id).values(login_failed_at=earlier))
        db.session.commit()


@pytest.fixture
def throttled(make_app: Any) -> Flask:
    app: Flask = make_app(**THROTTLE)
    _register(app)
    return app


def test_failures_from_many_addresses_slow_the_account_down(throttled: Flask) -> None:
    statuses = [_login(throttled, n).status_code for n in range(3)]

    refused = _login(throttled, 3)

    assert statuses == [401, 401, 401]
    body = assert_problem(refused, 429)
    assert body["type"] == ProblemType.LOGIN_SLOWED_DOWN.uri
    assert "Too many failed logins for this account" in body["detail"]
    assert 59 <= int(refused.headers["Retry-After"]) <= 60
    assert _failures(throttled) == (3, True)  # the refused attempt is not counted


def test_refused_attempt_is_refused_even_with_the_right_password(throttled: Flask) -> None:
    for n in range(3):
        _login(throttled, n)

    response = _login(throttled, 9, password=PASSWORD)

    assert_problem(response, 429)
    assert _failures(throttled) == (3, True)


def test_right_password_after_the_delay_logs_in_and_resets(throttled: Flask) -> None:
    for n in range(3):
        _login(throttled, n)
    _time_passes(throttled, 60)

    response = _login(throttled, 4, password=PASSWORD)

    assert response.status_code == 200
    assert response.get_json()["token"]
    assert _failures(throttled) == (0, False)
    assert [_login(throttled, n).status_code for n in range(3)] == [401, 401, 401]


def test_each_failure_past_the_free_ones_doubles_the_wait_up_to_the_cap(
    throttled: Flask,
) -> None:
    for n in range(3):
        _login(throttled, n)
    waits = []
    for n in range(3):
        _time_passes(throttled, 1000)
        assert _login(throttled, n).status_code == 401
        waits.append(int(_login(throttled, n).headers["Retry-After"]))

    # 60 -> 120 -> cap 200 (Flask-Limiter rounds Retry-After down to whole seconds)
    assert [round(wait, -1) for wait in waits] == [120, 200, 200], waits
    assert _failures(throttled) == (6, True)


def test_successful_logins_never_slow_the_account_down(throttled: Flask) -> None:
    statuses = [_login(throttled, n, password=PASSWORD).status_code for n in range(6)]

    assert statuses == [200] * 6
    assert _failures(throttled) == (0, False)


def test_an_attempt_counted_meanwhile_elsewhere_is_not_lost(throttled: Flask) -> None:
    """Claiming an attempt is a compare-and-set: one counted by another process between
    reading the account and claiming is seen, and this one counts on top of it."""
    with throttled.app_context():
        user = find_user(username="alice")
        assert user is not None
        assert user.login_failures == 0
        with db.engine.begin() as elsewhere:
            elsewhere.execute(update(User).values(login_failures=2))

        claim_login_attempt(user)

    assert _failures(throttled) == (3, True)


def test_login_by_email_counts_against_the_same_account(throttled: Flask) -> None:
    for n in range(3):
        _login(throttled, n)

    response = _login(throttled, 5, email="ALICE@example.com")

    assert_problem(response, 429)


def test_other_accounts_are_not_slowed_down(throttled: Flask) -> None:
    _register(throttled, "bob")
    for n in range(3):
        _login(throttled, n)

    response = throttled.test_client().post(
        "/api/login", json={"username": "bob", "password": PASSWORD}
    )

    assert response.status_code == 200


def test_unknown_account_answers_401_however_often(throttled: Flask) -> None:
    body = {"username": "nobody", "password": WRONG}
    client = throttled.test_client()

    statuses = {client.post("/api/login", json=body).status_code for _ in range(5)}

    assert statuses == {401}


def test_the_count_is_shared_by_every_process(throttled: Flask, make_app: Any) -> None:
    """The failures are on the account's row: another server process sees them."""
    for n in range(3):
        _login(throttled, n)
    other_process = make_app(**THROTTLE)

    response = _login(other_process, 7)

    assert_problem(response, 429)


def test_web_login_page_is_slowed_down_by_api_failures(throttled: Flask) -> None:
    """One rule for both doors: failures through the API slow the login page down too."""
    for n in range(3):
        _login(throttled, n)
    browser = Browser(throttled.test_client())

    response = browser.post("/login", {"login": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert 59 <= int(response.headers["Retry-After"]) <= 60
    assert "Too many failed logins for this account" in response.get_data(as_text=True)
    assert "user_id" not in browser.session()
    assert _failures(throttled) == (3, True)


def test_rate_limiting_off_turns_the_account_throttle_off(make_app: Any) -> None:
    app = make_app(**{**THROTTLE, "RATELIMIT_ENABLED": False})
    _register(app)
    for n in range(5):
        _login(app, n)

    response = _login(app, 6, password=PASSWORD)

    assert response.status_code == 200
    assert _failures(app) == (0, False)


# --- per-address limit: IPv6 by /64 ---------------------------------------------------


def _from(app: Flask, address: str):
    body = {"email": "nobody@example.com", "password": WRONG}
    return app.test_client().post("/api/login", json=body, environ_base={"REMOTE_ADDR": address})


def test_ipv6_addresses_in_one_slash_64_share_a_bucket(make_app: Any) -> None:
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="2 per minute")

    first = [_from(app, address).status_code for address in ("2001:db8:1:2::1", "2001:db8:1:2::2")]
    neighbour = _from(app, "2001:db8:1:2:ffff:ffff:ffff:ffff")

    assert first == [401, 401]
    assert_problem(neighbour, 429)


def test_ipv6_addresses_in_other_slash_64s_get_their_own_buckets(make_app: Any) -> None:
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="2 per minute")
    for address in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        _from(app, address)

    statuses = [_from(app, address).status_code for address in ("2001:db8:1:3::1", "2001:db9::1")]

    assert statuses == [401, 401]


def test_ipv4_addresses_keep_a_bucket_each(make_app: Any) -> None:
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="1 per minute")

    statuses = [_from(app, address).status_code for address in ("192.0.2.1", "192.0.2.2")]

    assert statuses == [401, 401]


def test_forwarded_ipv6_clients_are_keyed_by_slash_64(make_app: Any) -> None:
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="1 per minute", PROXY_HOPS=1)
    body = {"email": "nobody@example.com", "password": WRONG}

    statuses = [
        app.test_client()
        .post("/api/login", json=body, headers={"X-Forwarded-For": address})
        .status_code
        for address in ("2001:db8:5:6::1", "2001:db8:5:6::abcd")
    ]

    assert statuses == [401, 429]


HOME = {"REMOTE_ADDR": "198.51.100.7"}


def _login_from_home(app: Flask) -> Any:
    body = {"username": "alice", "password": PASSWORD}
    return app.test_client().post("/api/login", json=body, environ_base=HOME)


def test_guessing_elsewhere_does_not_lock_the_owner_out_of_their_own_network(
    throttled: Flask,
) -> None:
    assert _login_from_home(throttled).status_code == 200  # home is now a known network
    for n in range(THROTTLE["LOGIN_FREE_ATTEMPTS"]):
        assert _login(throttled, n).status_code == 401

    elsewhere = _login(throttled, 50, password=PASSWORD)
    at_home = _login_from_home(throttled)

    assert_problem(elsewhere, 429)  # the account is slowed down for everyone else
    assert at_home.status_code == 200, at_home.get_json()
    assert _failures(throttled) == (0, False)


def test_the_account_remembers_only_its_latest_networks(throttled: Flask) -> None:
    for n in range(KNOWN_NETWORKS + 1):
        assert _login(throttled, n, password=PASSWORD).status_code == 200

    with throttled.app_context():
        networks = db.session.scalar(select(User.login_networks).where(User.username == "alice"))
    assert networks is not None
    assert networks.split() == [f"203.0.113.{n + 1}" for n in range(KNOWN_NETWORKS, 0, -1)]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_guessing_the_current_password_with_a_token_counts_like_logins(
    throttled: Flask, method: str
) -> None:
    """A stolen token must not be a faster way to guess the password than logging in."""
    token = _login_from_home(throttled).get_json()["token"]
    thief = throttled.test_client()

    def attempt(password: str) -> Any:
        body = {"current_password": password}
        if method == "PATCH":
            body["email"] = "thief@example.com"
        return thief.open(
            "/api/me",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": "203.0.113.99"},
        )

    wrong = [attempt(WRONG).status_code for _ in range(THROTTLE["LOGIN_FREE_ATTEMPTS"])]
    right_but_early = attempt(PASSWORD)

    assert wrong == [400] * THROTTLE["LOGIN_FREE_ATTEMPTS"]
    body = assert_problem(right_but_early, 429)
    assert body["type"] == ProblemType.LOGIN_SLOWED_DOWN.uri
    with throttled.app_context():
        user = db.session.execute(select(User).where(User.username == "alice")).scalar_one()
        assert user.email == "alice@example.com"  # nothing changed, nothing deleted
