"""The access tokens a process keeps once verified (``doable.auth.token_cache``): a kept
token is still refused the moment it expires, with the same answer, and still refused
when its login ends; no app serves a token another app verified."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask

from doable.auth.token_cache import TokenCache, token_cache
from tests.auth.test_tokens import assert_unauthorized, claims_of, me
from tests.support.factories import Account, ApiClient

#: Another app's key: a token it signs is not one of ours.
OTHER_SECRET = "q7Lx2-RbVw0TnYe5KcUzHj9AmPd4GsFi8OoXl1BuNr6WtQ3v"


class Clock:
    """A clock the test moves; it starts at the real time, as the tokens do."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def claims(exp: float, iat: float, **more: Any) -> dict[str, Any]:
    return {"exp": exp, "iat": iat, "jti": "j", "sub": "1", "sid": "s", "type": "access", **more}


# Through the API.


def test_an_access_token_verified_once_is_kept(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    assert me(api, account.token).status_code == 200

    assert token_cache(app).claims(account.token) == claims_of(account.token)


def kept_on_a_clock(app: Flask) -> tuple[ApiClient, Account, Clock]:
    """An account whose access token ``app`` keeps, on a clock the test moves."""
    clock = Clock()
    app.extensions["doable.token_cache"] = TokenCache(clock=clock)
    api = ApiClient(app.test_client())
    account = api.account("alice")
    assert me(api, account.token).status_code == 200
    return api, account, clock


def test_a_kept_token_is_refused_once_it_expires(app: Flask) -> None:
    api, account, clock = kept_on_a_clock(app)
    clock.now = claims_of(account.token)["exp"]

    body = assert_unauthorized(me(api, account.token))

    assert body["detail"] == "Token has expired"
    assert len(token_cache(app)) == 0


def test_a_kept_token_is_served_until_its_last_second(app: Flask) -> None:
    api, account, clock = kept_on_a_clock(app)
    clock.now = claims_of(account.token)["exp"] - 0.001

    assert me(api, account.token).status_code == 200


def test_a_kept_token_is_refused_once_its_login_ends(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    assert me(api, account.token).status_code == 200
    assert api.post("/api/logout", account.token).status_code == 204
    assert len(token_cache(app)) == 1

    body = assert_unauthorized(me(api, account.token))

    assert body["detail"] == "Token has been revoked"


def test_a_token_another_app_verified_is_refused_here(make_app: Callable[..., Flask]) -> None:
    ours, theirs = make_app(), make_app(SECRET_KEY=OTHER_SECRET)
    account = ApiClient(theirs.test_client()).account("alice")
    assert me(ApiClient(theirs.test_client()), account.token).status_code == 200

    body = assert_unauthorized(me(ApiClient(ours.test_client()), account.token))

    assert body["detail"] == "Invalid token: Signature verification failed"
    assert len(token_cache(ours)) == 0


def test_a_kept_token_with_another_signature_is_checked_in_full(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    assert me(api, account.token).status_code == 200
    forged = jwt.encode(claims_of(account.token), OTHER_SECRET, algorithm="HS256")

    body = assert_unauthorized(me(api, forged))

    assert body["detail"] == "Invalid token: Signature verification failed"
    assert len(token_cache(app)) == 1


def test_a_refresh_token_is_never_kept(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    for _ in range(2):
        body = assert_unauthorized(me(api, account.refresh_token))
        assert body["detail"] == "Invalid token: Only non-refresh tokens are allowed"

    assert len(token_cache(app)) == 0


# The cache itself.


def test_the_oldest_tokens_go_first_beyond_max_entries() -> None:
    cache = TokenCache(max_entries=3)
    now = time.time()
    for n in range(4):
        cache.keep(f"t{n}", claims(now + 600, now), leeway=0)

    assert len(cache) == 3
    assert cache.claims("t0") is None
    assert [cache.claims(f"t{n}") is not None for n in (1, 2, 3)] == [True, True, True]


def test_expired_tokens_go_when_they_are_the_oldest() -> None:
    clock = Clock()
    cache = TokenCache(clock=clock)
    cache.keep("short", claims(clock.now + 1, clock.now), leeway=0)
    clock.now += 1

    cache.keep("fresh", claims(clock.now + 600, clock.now), leeway=0)

    assert len(cache) == 1


def test_a_kept_token_expires_with_the_leeway_pyjwt_allows() -> None:
    clock = Clock()
    cache = TokenCache(clock=clock)
    exp = int(clock.now) + 60
    cache.keep("t", claims(exp, clock.now), leeway=10)

    clock.now = exp + 9.999
    assert cache.claims("t") is not None
    clock.now = exp + 10
    with pytest.raises(jwt.ExpiredSignatureError, match=r"^Signature has expired$"):
        cache.claims("t")


def test_a_token_not_yet_valid_is_checked_in_full() -> None:
    """Only a clock set back can get here: the full check names the fault."""
    clock = Clock()
    cache = TokenCache(clock=clock)
    cache.keep("t", claims(clock.now + 600, clock.now, nbf=clock.now + 5), leeway=0)
    clock.now += 4

    assert cache.claims("t") is None
    assert len(cache) == 0


def test_claims_are_handed_out_as_copies() -> None:
    cache = TokenCache()
    now = time.time()
    cache.keep("t", claims(now + 600, now), leeway=0)

    first = cache.claims("t")
    assert first is not None
    first["sub"] = "2"

    assert cache.claims("t") == claims(now + 600, now)
