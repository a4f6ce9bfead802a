"""Token rules (docs/api.md, Authentication): the access JWT, its pinned algorithm,
refresh rotation with reuse detection, and revocation by logout, password change and
account deletion."""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
import uuid
from typing import Any

import jwt
import pytest
from flask import Flask
from sqlalchemy import select

from doable.auth.models import AuthSession
from doable.extensions import db
from tests.conftest import TEST_JWT_KEY
from tests.support.factories import NEW_PASSWORD, PASSWORD, PROBLEM_JSON, Account, ApiClient

# --- helpers -------------------------------------------------------------------------


def claims_of(token: str) -> dict[str, Any]:
    """Verify a token the way a client with the server's key would, and return its claims."""
    return jwt.decode(token, TEST_JWT_KEY, algorithms=["HS256"])  # type: ignore[no-any-return]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_token(
    header: dict[str, Any], claims: dict[str, Any], key: bytes | None, digest: str = "sha256"
) -> str:
    """A JWT assembled by hand: an HMAC signature with ``key`` (none without a key)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest() if key else b""
    return f"{signing_input}.{b64(signature)}"


def future_claims(token: str, **changes: Any) -> dict[str, Any]:
    """A real token's claims with fresh iat/exp, plus ``changes``."""
    now = int(time.time())
    return {**claims_of(token), "iat": now, "nbf": now, "exp": now + 600, **changes}


def me(api: ApiClient, token: str) -> Any:
    return api.get("/api/me", token)


def refresh(api: ApiClient, refresh_token: Any) -> Any:
    return api.client.post("/api/token/refresh", json={"refresh_token": refresh_token})


def assert_unauthorized(response: Any) -> dict[str, Any]:
    """A 401 is a problem document with the request id and a Bearer challenge."""
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["status"] == 401
    assert body["title"] == "Unauthorized"
    assert body["request_id"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body  # type: ignore[no-any-return]


def sessions(app: Flask, user_id: int) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuthSession).where(AuthSession.user_id == user_id).order_by(AuthSession.id)
        )
        return [
            {"id": row.id, "refresh_jti": row.refresh_jti, "revoked": row.revoked_at is not None}
            for row in rows
        ]


def session_of(app: Flask, token: str) -> dict[str, Any]:
    sid = claims_of(token)["sid"]
    with app.app_context():
        row = db.session.get(AuthSession, sid)
        assert row is not None
        return {"refresh_jti": row.refresh_jti, "revoked": row.revoked_at is not None}


def second_login(api: ApiClient, account: Account) -> dict[str, str]:
    response = api.login(username=account.username, password=account.password)
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def rotate(api: ApiClient, refresh_token: str) -> dict[str, str]:
    response = refresh(api, refresh_token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


# --- the access token itself -----------------------------------------------------------


def test_login_access_token_is_hs256_jwt_with_required_claims(api: ApiClient) -> None:
    account = api.account("alice")

    header = jwt.get_unverified_header(account.token)
    claims = claims_of(account.token)

    assert header["alg"] == "HS256"
    assert {"exp", "iat", "jti", "sub"} <= set(claims)
    assert claims["sub"] == str(account.id)
    assert isinstance(claims["sub"], str)
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 60
    assert uuid.UUID(claims["jti"])


def test_login_access_token_lifetime_follows_config(make_app: Any) -> None:
    api = ApiClient(make_app(ACCESS_TOKEN_TTL=60).test_client())
    account = api.account("alice")

    claims = claims_of(account.token)

    assert claims["exp"] - claims["iat"] == 60


def test_login_refresh_token_lifetime_follows_config(make_app: Any) -> None:
    api = ApiClient(make_app(REFRESH_TOKEN_TTL=3600).test_client())
    account = api.account("alice")

    claims = claims_of(account.refresh_token)

    assert claims["exp"] - claims["iat"] == 3600
    assert claims["sub"] == str(account.id)


def test_login_twice_issues_distinct_jtis_and_sessions(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    other = second_login(api, account)

    assert claims_of(other["token"])["jti"] != claims_of(account.token)["jti"]
    assert claims_of(other["token"])["sid"] != claims_of(account.token)["sid"]
    assert len(sessions(app, account.id)) == 2


def test_request_with_access_token_returns_200(api: ApiClient) -> None:
    account = api.account("alice")

    response = me(api, account.token)

    assert response.status_code == 200
    assert response.get_json()["id"] == account.id


def test_request_with_token_forged_with_server_key_and_future_exp_returns_200(
    api: ApiClient,
) -> None:
    """The control for the forged-token tests below: forging itself is done right."""
    account = api.account("alice")
    token = jwt.encode(future_claims(account.token), TEST_JWT_KEY, algorithm="HS256")

    response = me(api, token)

    assert response.status_code == 200
    assert response.get_json()["id"] == account.id


# --- every way an access token can be bad ------------------------------------------------


def test_request_with_expired_access_token_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    now = int(time.time())
    claims = future_claims(account.token, iat=now - 1000, nbf=now - 1000, exp=now - 100)
    token = jwt.encode(claims, TEST_JWT_KEY, algorithm="HS256")

    response = me(api, token)

    body = assert_unauthorized(response)
    assert "expired" in body["detail"].lower()


def test_request_with_access_token_past_configured_ttl_returns_401(make_app: Any) -> None:
    api = ApiClient(make_app(ACCESS_TOKEN_TTL=1).test_client())
    account = api.account("alice")

    time.sleep(1.2)  # exp is at most 1 s after issue
    response = me(api, account.token)

    body = assert_unauthorized(response)
    assert "expired" in body["detail"].lower()


def test_request_with_alg_none_token_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    token = hand_made_token({"alg": "none", "typ": "JWT"}, future_claims(account.token), None)

    response = me(api, token)

    assert_unauthorized(response)


def test_request_with_alg_none_token_keeping_real_signature_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    _, payload, signature = account.token.split(".")
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())

    response = me(api, f"{header}.{payload}.{signature}")

    assert_unauthorized(response)


def test_request_with_token_signed_by_other_key_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    token = jwt.encode(
        future_claims(account.token), "another-secret-key-0123456789-abcdefghij", algorithm="HS256"
    )

    response = me(api, token)

    assert_unauthorized(response)


def test_request_with_hs512_token_signed_by_server_key_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    header = {"alg": "HS512", "typ": "JWT"}
    token = hand_made_token(header, future_claims(account.token), TEST_JWT_KEY.encode(), "sha512")

    response = me(api, token)

    assert_unauthorized(response)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256", "HS384"])
def test_request_with_other_alg_header_returns_401(api: ApiClient, alg: str) -> None:
    """Algorithm confusion: an HMAC of the server key under a header naming another alg."""
    account = api.account("alice")
    header = {"alg": alg, "typ": "JWT"}
    token = hand_made_token(header, future_claims(account.token), TEST_JWT_KEY.encode())

    response = me(api, token)

    assert_unauthorized(response)


def test_request_with_tampered_payload_returns_401(api: ApiClient) -> None:
    alice = api.account("alice")
    bob = api.account("bob")
    header, _, signature = alice.token.split(".")
    payload = b64(json.dumps({**claims_of(alice.token), "sub": str(bob.id)}).encode())

    response = me(api, f"{header}.{payload}.{signature}")

    assert_unauthorized(response)


def test_request_with_tampered_signature_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    header, payload, signature = account.token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    response = me(api, f"{header}.{payload}.{flipped}")

    assert_unauthorized(response)


def test_request_with_token_naming_another_users_session_returns_401(api: ApiClient) -> None:
    alice = api.account("alice")
    bob = api.account("bob")
    claims = future_claims(alice.token, sid=claims_of(bob.token)["sid"])
    token = jwt.encode(claims, TEST_JWT_KEY, algorithm="HS256")

    response = me(api, token)

    assert_unauthorized(response)


def test_request_with_token_of_unknown_session_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    claims = future_claims(account.token, sid=uuid.uuid4().hex)
    token = jwt.encode(claims, TEST_JWT_KEY, algorithm="HS256")

    response = me(api, token)

    assert_unauthorized(response)


def test_request_with_token_without_session_claim_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    claims = future_claims(account.token)
    del claims["sid"]
    token = jwt.encode(claims, TEST_JWT_KEY, algorithm="HS256")

    response = me(api, token)

    assert_unauthorized(response)


@pytest.mark.parametrize("sub", [None, 1, "abc", "1.0", ""], ids=repr)
def test_request_with_malformed_subject_returns_401(api: ApiClient, sub: Any) -> None:
    account = api.account("alice")
    claims = future_claims(account.token, sub=sub)
    if sub is None:
        del claims["sub"]
    token = jwt.encode(claims, TEST_JWT_KEY, algorithm="HS256")

    response = me(api, token)

    assert_unauthorized(response)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer not.a.jwt.at.all",
        "Basic YWxpY2U6Y29ycmVjdCBob3JzZSBiYXR0ZXJ5",
        "Token {token}",
        "{token}",
        "Bearer {token} extra",
    ],
    ids=[
        "scheme-only",
        "scheme-and-space",
        "garbage",
        "three-garbage-parts",
        "five-parts",
        "basic-scheme",
        "token-scheme",
        "no-scheme",
        "trailing-extra",
    ],
)
def test_request_with_malformed_authorization_returns_401(
    api: ApiClient, authorization: str
) -> None:
    account = api.account("alice")
    value = authorization.format(token=account.token)

    response = api.client.get("/api/me", headers={"Authorization": value})

    assert_unauthorized(response)


def test_request_without_authorization_returns_401(api: ApiClient) -> None:
    api.account("alice")

    response = api.client.get("/api/me")

    assert_unauthorized(response)


def test_request_with_refresh_token_as_access_token_returns_401(api: ApiClient) -> None:
    account = api.account("alice")

    response = me(api, account.refresh_token)

    assert_unauthorized(response)


def test_unauthorized_answer_repeats_client_request_id(api: ApiClient) -> None:
    response = api.client.get("/api/me", headers={"X-Request-Id": "client-chosen-id-42"})

    body = assert_unauthorized(response)
    assert response.headers["X-Request-Id"] == "client-chosen-id-42"
    assert body["request_id"] == "client-chosen-id-42"


# --- POST /api/token/refresh -----------------------------------------------------------


def test_refresh_returns_new_token_pair(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")

    response = refresh(api, account.refresh_token)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["token"] != account.token
    assert body["refresh_token"] != account.refresh_token
    assert claims_of(body["token"])["sub"] == str(account.id)
    assert claims_of(body["token"])["sid"] == claims_of(account.token)["sid"]
    assert session_of(app, account.token) == {
        "refresh_jti": claims_of(body["refresh_token"])["jti"],
        "revoked": False,
    }


def test_refresh_new_access_token_works(api: ApiClient) -> None:
    account = api.account("alice")
    pair = rotate(api, account.refresh_token)

    response = me(api, pair["token"])

    assert response.status_code == 200
    assert response.get_json()["id"] == account.id


def test_refresh_keeps_old_access_token_valid(api: ApiClient) -> None:
    account = api.account("alice")
    rotate(api, account.refresh_token)

    response = me(api, account.token)

    assert response.status_code == 200
    assert response.get_json()["id"] == account.id


def test_refresh_rotated_token_can_be_refreshed_again(api: ApiClient) -> None:
    account = api.account("alice")
    pair = rotate(api, account.refresh_token)

    response = refresh(api, pair["refresh_token"])

    assert response.status_code == 200
    assert response.get_json()["refresh_token"] != pair["refresh_token"]


def test_refresh_reusing_rotated_token_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    rotate(api, account.refresh_token)

    response = refresh(api, account.refresh_token)

    assert_unauthorized(response)


def test_refresh_reusing_rotated_token_revokes_the_session(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    rotate(api, account.refresh_token)

    refresh(api, account.refresh_token)

    assert session_of(app, account.token)["revoked"] is True


def test_refresh_reusing_rotated_token_revokes_newest_refresh_token(api: ApiClient) -> None:
    account = api.account("alice")
    pair = rotate(api, account.refresh_token)
    refresh(api, account.refresh_token)

    response = refresh(api, pair["refresh_token"])

    assert_unauthorized(response)


def test_refresh_reusing_rotated_token_revokes_newest_access_token(api: ApiClient) -> None:
    account = api.account("alice")
    pair = rotate(api, account.refresh_token)
    refresh(api, account.refresh_token)

    response = me(api, pair["token"])

    assert_unauthorized(response)


def test_refresh_reusing_rotated_token_revokes_original_access_token(api: ApiClient) -> None:
    account = api.account("alice")
    rotate(api, account.refresh_token)
    refresh(api, account.refresh_token)

    response = me(api, account.token)

    assert_unauthorized(response)


def test_refresh_reusing_rotated_token_keeps_other_sessions_working(
    api: ApiClient, app: Flask
) -> None:
    account = api.account("alice")
    other = second_login(api, account)
    rotate(api, account.refresh_token)
    refresh(api, account.refresh_token)

    assert me(api, other["token"]).status_code == 200
    assert refresh(api, other["refresh_token"]).status_code == 200
    assert sorted(row["revoked"] for row in sessions(app, account.id)) == [False, True]


def test_refresh_with_access_token_returns_401(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    before = session_of(app, account.token)

    response = refresh(api, account.token)

    assert_unauthorized(response)
    assert session_of(app, account.token) == before


def test_refresh_with_expired_refresh_token_returns_401(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    now = int(time.time())
    claims = {
        **claims_of(account.refresh_token),
        "iat": now - 1000,
        "nbf": now - 1000,
        "exp": now - 100,
    }
    token = jwt.encode(claims, TEST_JWT_KEY, algorithm="HS256")

    response = refresh(api, token)

    assert_unauthorized(response)
    assert session_of(app, account.token)["refresh_jti"] == claims["jti"]


def test_refresh_with_token_signed_by_other_key_returns_401(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    claims = future_claims(account.refresh_token)
    token = jwt.encode(claims, "another-secret-key-0123456789-abcdefghij", algorithm="HS256")

    response = refresh(api, token)

    assert_unauthorized(response)
    assert session_of(app, account.token) == {"refresh_jti": claims["jti"], "revoked": False}


def test_refresh_with_alg_none_token_returns_401(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    claims = future_claims(account.refresh_token)
    token = hand_made_token({"alg": "none", "typ": "JWT"}, claims, None)

    response = refresh(api, token)

    assert_unauthorized(response)
    assert session_of(app, account.token) == {"refresh_jti": claims["jti"], "revoked": False}


@pytest.mark.parametrize("value", ["garbage", "a.b.c"])
def test_refresh_with_garbage_token_returns_401(api: ApiClient, value: str) -> None:
    api.account("alice")

    response = refresh(api, value)

    assert_unauthorized(response)


def test_refresh_missing_field_returns_400(api: ApiClient) -> None:
    api.account("alice")

    response = api.client.post("/api/token/refresh", json={})

    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == 400
    assert set(body["errors"]) == {"refresh_token"}


def test_refresh_unknown_field_returns_400(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    before = session_of(app, account.token)

    response = api.client.post(
        "/api/token/refresh", json={"refresh_token": account.refresh_token, "scope": "admin"}
    )

    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    assert set(response.get_json()["errors"]) == {"scope"}
    assert session_of(app, account.token) == before


@pytest.mark.parametrize("value", ["", None, 42], ids=["empty", "null", "number"])
def test_refresh_with_non_token_value_returns_400(api: ApiClient, value: Any) -> None:
    api.account("alice")

    response = refresh(api, value)

    assert response.status_code == 400
    assert response.mimetype == PROBLEM_JSON
    assert set(response.get_json()["errors"]) == {"refresh_token"}


def test_refresh_same_token_concurrently_succeeds_exactly_once(app: Flask) -> None:
    api = ApiClient(app.test_client())
    account = api.account("alice")
    barrier = threading.Barrier(2, timeout=10)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            client = app.test_client()
            barrier.wait()
            response = client.post(
                "/api/token/refresh", json={"refresh_token": account.refresh_token}
            )
            statuses.append(response.status_code)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(statuses) == [200, 401]


# --- revocation: logout, password change, deletion -------------------------------------


def test_logout_revokes_that_access_token(api: ApiClient) -> None:
    account = api.account("alice")
    assert api.post("/api/logout", account.token).status_code == 204

    response = me(api, account.token)

    assert_unauthorized(response)


def test_logout_revokes_that_refresh_token(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    api.post("/api/logout", account.token)

    response = refresh(api, account.refresh_token)

    assert_unauthorized(response)
    assert session_of(app, account.token)["revoked"] is True


def test_logout_revokes_access_token_issued_by_refresh(api: ApiClient) -> None:
    account = api.account("alice")
    pair = rotate(api, account.refresh_token)
    api.post("/api/logout", account.token)

    response = me(api, pair["token"])

    assert_unauthorized(response)


def test_logout_keeps_other_sessions_working(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    other = second_login(api, account)

    api.post("/api/logout", account.token)

    assert me(api, other["token"]).status_code == 200
    assert refresh(api, other["refresh_token"]).status_code == 200
    assert sorted(row["revoked"] for row in sessions(app, account.id)) == [False, True]


def test_logout_keeps_other_users_working(api: ApiClient) -> None:
    alice = api.account("alice")
    bob = api.account("bob")

    api.post("/api/logout", alice.token)

    assert me(api, bob.token).status_code == 200


def test_password_change_revokes_every_access_token(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    other = second_login(api, account)
    response = api.patch(
        "/api/me", account.token, json={"password": NEW_PASSWORD, "current_password": PASSWORD}
    )
    assert response.status_code == 200

    assert_unauthorized(me(api, account.token))
    assert_unauthorized(me(api, other["token"]))
    assert [row["revoked"] for row in sessions(app, account.id)] == [True, True]


def test_password_change_revokes_every_refresh_token(api: ApiClient) -> None:
    account = api.account("alice")
    other = second_login(api, account)
    api.patch(
        "/api/me", account.token, json={"password": NEW_PASSWORD, "current_password": PASSWORD}
    )

    assert_unauthorized(refresh(api, account.refresh_token))
    assert_unauthorized(refresh(api, other["refresh_token"]))


def test_password_change_keeps_other_users_sessions(api: ApiClient, app: Flask) -> None:
    alice = api.account("alice")
    bob = api.account("bob")

    api.patch("/api/me", alice.token, json={"password": NEW_PASSWORD, "current_password": PASSWORD})

    assert me(api, bob.token).status_code == 200
    assert [row["revoked"] for row in sessions(app, bob.id)] == [False]


def test_password_change_then_new_login_works(api: ApiClient) -> None:
    account = api.account("alice")
    api.patch(
        "/api/me", account.token, json={"password": NEW_PASSWORD, "current_password": PASSWORD}
    )

    fresh = api.login(username="alice", password=NEW_PASSWORD)

    assert fresh.status_code == 200
    assert me(api, fresh.get_json()["token"]).status_code == 200


def test_request_with_token_of_deleted_user_returns_401(api: ApiClient) -> None:
    account = api.account("alice")
    other = second_login(api, account)
    assert (
        api.delete(
            "/api/me", account.token, json={"current_password": account.password}
        ).status_code
        == 204
    )

    assert_unauthorized(me(api, account.token))
    assert_unauthorized(me(api, other["token"]))


def test_refresh_with_token_of_deleted_user_returns_401(api: ApiClient, app: Flask) -> None:
    account = api.account("alice")
    api.delete("/api/me", account.token, json={"current_password": account.password})

    response = refresh(api, account.refresh_token)

    assert_unauthorized(response)
    assert sessions(app, account.id) == []


def test_an_expired_login_session_ends_its_access_tokens_too(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    """A login lives until its refresh lifetime runs out: after that no door lets it in,
    even with an access token still inside its own 15 minutes. (The row is aged behind
    the services' back, before any request: a process that already keeps the login
    stops at the expiry it read, tests/auth/test_logins.py.)"""
    from datetime import timedelta

    from doable.db import utcnow

    with app.app_context():
        session = db.session.get(AuthSession, claims_of(alice.token)["sid"])
        session.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert api.get("/api/me", alice.token).status_code == 401
