"""The exact 401 every refused API call gets: its ``type``, ``detail`` and challenge.

Pinned word for word, so changing how a token is read cannot change a single answer,
including for tokens bad in two ways at once: the claims are judged before the
signature, and an expired token whose subject or id is malformed is refused for the
malformed claim."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.auth.test_tokens import claims_of, future_claims, hand_made_token
from tests.conftest import TEST_JWT_KEY
from tests.support.factories import PROBLEM_JSON, Account, ApiClient

INVALID = "tag:doable.dev,2026:problems/invalid-token"
REQUIRED = "tag:doable.dev,2026:problems/authentication-required"
EXPECT = "Expected 'Authorization: Bearer <JWT>'"
MISSING_BEARER = f"Missing 'Bearer' type in 'Authorization' header. {EXPECT}"
BAD_HEADER = f"Invalid token: Bad Authorization header. {EXPECT}"
SIGNATURE = "Invalid token: Signature verification failed"
ALG = "Invalid token: The specified alg value is not allowed"
NOT_AN_OBJECT = "Invalid token: Invalid payload string: must be a json object"
REVOKED = "Token has been revoked"
OTHER_KEY = "another-secret-key-0123456789-abcdefghij"

Header = Callable[[ApiClient, Account], "str | None"]


def missing(claim: str) -> str:
    return f'Invalid token: Token is missing the "{claim}" claim'


def bearer(claims: Callable[[Account], Any], key: str = TEST_JWT_KEY, alg: str = "HS256") -> Header:
    """An Authorization header holding ``claims`` (of the caller) signed with ``key``
    under ``alg`` (an HMAC; none for "none")."""

    def header(_api: ApiClient, account: Account) -> str:
        digest = {"HS256": "sha256", "HS512": "sha512"}.get(alg, "sha256")
        signing_key = None if alg == "none" else key.encode()
        return "Bearer " + hand_made_token({"alg": alg}, claims(account), signing_key, digest)

    return header


def fresh(**changes: Any) -> Callable[[Account], dict[str, Any]]:
    """The caller's own access-token claims, unexpired, with ``changes`` (None drops one;
    a callable is called when the token is made)."""

    def claims(account: Account) -> dict[str, Any]:
        now = {name: change() if callable(change) else change for name, change in changes.items()}
        made = future_claims(account.token, **now)
        return {name: value for name, value in made.items() if value is not None}

    return claims


def expired(**changes: Any) -> Callable[[Account], dict[str, Any]]:
    now = int(time.time())
    return fresh(iat=now - 1000, nbf=now - 1000, exp=now - 100, **changes)


def value(text: str) -> Header:
    return lambda _api, account: text.format(token=account.token)


def logged_out(api: ApiClient, account: Account) -> str:
    assert api.post("/api/logout", account.token).status_code == 204
    return f"Bearer {account.token}"


def deleted(api: ApiClient, account: Account) -> str:
    body = {"current_password": account.password}
    assert api.delete("/api/me", account.token, json=body).status_code == 204
    return f"Bearer {account.token}"


def expired_refresh_claims(account: Account) -> dict[str, Any]:
    now = int(time.time())
    return {**claims_of(account.refresh_token), "iat": now - 1000, "exp": now - 100}


CASES: dict[str, tuple[Header, str, str]] = {
    # the Authorization header
    "no-header": (lambda _api, _account: None, REQUIRED, "Missing Authorization Header"),
    "empty-header": (value(""), REQUIRED, "Missing Authorization Header"),
    "commas-only": (value(" , "), REQUIRED, "Missing Authorization Header"),
    "basic-scheme": (value("Basic YWxpY2U6eA=="), REQUIRED, MISSING_BEARER),
    "no-scheme": (value("{token}"), REQUIRED, MISSING_BEARER),
    "two-bearers": (value("Bearer {token}, Bearer {token}"), REQUIRED, MISSING_BEARER),
    "lowercase-bearer-second": (value("Basic x, bearer {token}"), REQUIRED, MISSING_BEARER),
    "scheme-only": (value("Bearer"), INVALID, BAD_HEADER),
    "trailing-extra": (value("Bearer {token} extra"), INVALID, BAD_HEADER),
    "lowercase-garbage": (value("bearer garbage"), INVALID, "Invalid token: Not enough segments"),
    # malformed tokens
    "three-garbage-parts": (
        value("Bearer a.b.c"),
        INVALID,
        "Invalid token: Invalid header padding",
    ),
    "five-parts": (
        value("Bearer not.a.jwt.at.all"),
        INVALID,
        "Invalid token: Invalid header padding",
    ),
    "payload-not-an-object": (bearer(lambda _account: [1]), INVALID, NOT_AN_OBJECT),
    "kid-not-a-string": (
        lambda _api, account: (
            "Bearer "
            + hand_made_token(
                {"alg": "HS256", "kid": 7}, fresh()(account), TEST_JWT_KEY.encode(), "sha256"
            )
        ),
        INVALID,
        "Invalid token: Key ID header parameter must be a string",
    ),
    # signature and algorithm
    "other-key": (bearer(fresh(), OTHER_KEY), INVALID, SIGNATURE),
    "alg-none": (bearer(fresh(), alg="none"), INVALID, ALG),
    "hs512": (bearer(fresh(), alg="HS512"), INVALID, ALG),
    "rs256-header": (bearer(fresh(), alg="RS256"), INVALID, ALG),
    # time
    "expired": (bearer(expired()), INVALID, "Token has expired"),
    "not-yet-valid": (
        bearer(fresh(nbf=lambda: int(time.time()) + 600)),
        INVALID,
        "Invalid token: The token is not yet valid (nbf)",
    ),
    "issued-in-the-future": (
        bearer(fresh(iat=lambda: int(time.time()) + 600)),
        INVALID,
        "Invalid token: The token is not yet valid (iat)",
    ),
    "exp-not-a-number": (
        bearer(fresh(exp="soon")),
        INVALID,
        "Invalid token: Expiration Time claim (exp) must be an integer.",
    ),
    # claims
    "missing-exp": (bearer(fresh(exp=None)), INVALID, missing("exp")),
    "missing-iat": (bearer(fresh(iat=None)), INVALID, missing("iat")),
    "missing-jti": (bearer(fresh(jti=None)), INVALID, missing("jti")),
    "missing-sub": (bearer(fresh(sub=None)), INVALID, missing("sub")),
    "missing-type": (bearer(fresh(type=None)), INVALID, missing("type")),
    "empty-jti": (bearer(fresh(jti="")), INVALID, missing("jti")),
    "jti-not-a-string": (bearer(fresh(jti=5)), INVALID, "Invalid token: JWT ID must be a string"),
    "sub-not-a-string": (bearer(fresh(sub=7)), INVALID, "Invalid token: Subject must be a string"),
    "unknown-type": (bearer(fresh(type="id")), INVALID, "Invalid token: Unknown token type"),
    "refresh-token": (
        lambda _api, account: f"Bearer {account.refresh_token}",
        INVALID,
        "Invalid token: Only non-refresh tokens are allowed",
    ),
    # two faults at once: the one answered is the one Flask-JWT-Extended found first
    "other-key-and-missing-jti": (bearer(fresh(jti=None), OTHER_KEY), INVALID, missing("jti")),
    "other-key-and-unknown-type": (
        bearer(fresh(type="id"), OTHER_KEY),
        INVALID,
        "Invalid token: Unknown token type",
    ),
    "alg-none-and-missing-exp": (bearer(fresh(exp=None), alg="none"), INVALID, missing("exp")),
    "other-key-and-not-an-object": (bearer(lambda _a: [1], OTHER_KEY), INVALID, NOT_AN_OBJECT),
    "other-key-and-expired": (bearer(expired(), OTHER_KEY), INVALID, SIGNATURE),
    "expired-and-missing-jti": (bearer(expired(jti=None)), INVALID, missing("jti")),
    "expired-and-sub-not-a-string": (
        bearer(expired(sub=7)),
        INVALID,
        "Invalid token: Subject must be a string",
    ),
    "expired-refresh-token": (bearer(expired_refresh_claims), INVALID, "Token has expired"),
    # the login session and its user
    "no-session-claim": (bearer(fresh(sid=None)), INVALID, REVOKED),
    "unknown-session": (bearer(fresh(sid=uuid.uuid4().hex)), INVALID, REVOKED),
    "sub-not-a-number": (bearer(fresh(sub="abc")), INVALID, REVOKED),
    "logged-out": (logged_out, INVALID, REVOKED),
    "user-deleted": (deleted, INVALID, REVOKED),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_call_gets_its_exact_answer(api: ApiClient, alice: Account, case: str) -> None:
    make_header, kind, detail = CASES[case]
    header = make_header(api, alice)
    headers = {} if header is None else {"Authorization": header}

    response = api.client.get("/api/me", headers=headers)

    assert response.status_code == 401
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert (body["type"], body["detail"]) == (kind, detail)
    assert sorted(body) == ["detail", "request_id", "status", "title", "type"]
    quoted = detail.replace('"', "")
    challenge = f'Bearer realm="doable", error="invalid_token", error_description="{quoted}"'
    assert response.headers["WWW-Authenticate"] == challenge


def test_the_forged_tokens_above_are_good_when_nothing_is_wrong(
    api: ApiClient, alice: Account
) -> None:
    """The control: ``bearer(fresh())`` itself lets the caller in."""
    response = api.client.get("/api/me", headers={"Authorization": bearer(fresh())(api, alice)})

    assert response.status_code == 200
    assert response.get_json()["id"] == alice.id
