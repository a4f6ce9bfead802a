"""What every token must carry, and how its header may be spelled.

A token signed with the server's own key is still refused when it lacks ``exp``,
``iat``, ``jti``, ``sub`` or ``type``: with the same 401 problem document as any other
bad token on the API, and ``invalid_token`` on a socket connect.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from flask import Flask

from tests.auth.test_tokens import assert_unauthorized, claims_of, future_claims, session_of
from tests.conftest import TEST_JWT_KEY, TEST_SECRET
from tests.support.factories import Account, ApiClient

REQUIRED = ["exp", "iat", "jti", "sub", "type"]


def without(token: str, claim: str) -> str:
    """``token`` re-signed with the server's JWT key, fresh, and without ``claim``."""
    claims = future_claims(token)
    del claims[claim]
    return jwt.encode(claims, TEST_JWT_KEY, algorithm="HS256")


def socket_refusal(app: Flask, token: str) -> dict[str, Any] | None:
    """Connect Flask-SocketIO's in-process client with ``token``; the refusal's data
    (``{"reason": ..., "retry": ...}``), or None when the connection was accepted."""
    socketio = app.extensions["socketio"]
    client = socketio.test_client(app, auth={"token": "-"})  # refused; wires the test server
    assert not client.is_connected()
    refusals: list[dict[str, Any]] = []
    deliver = socketio.server._send_packet

    def record(eio_sid: str, pkt: Any) -> None:
        if pkt.packet_type == 4:  # CONNECT_ERROR
            refusals.append(pkt.data.get("data") or {})
        deliver(eio_sid, pkt)

    socketio.server._send_packet = record
    try:
        client.connect(auth={"token": token})
    finally:
        socketio.server._send_packet = deliver
    if client.is_connected():
        client.disconnect()
        return None
    assert len(refusals) == 1
    return refusals[0]


# --- required claims ---------------------------------------------------------------


@pytest.mark.parametrize("claim", REQUIRED)
def test_request_with_access_token_missing_a_claim_returns_401(
    api: ApiClient, alice: Account, claim: str
) -> None:
    response = api.get("/api/me", without(alice.token, claim))

    body = assert_unauthorized(response)
    assert body["detail"] == f'Invalid token: Token is missing the "{claim}" claim'
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="doable"')


@pytest.mark.parametrize("claim", REQUIRED)
def test_refresh_with_refresh_token_missing_a_claim_returns_401_and_keeps_session(
    api: ApiClient, app: Flask, alice: Account, claim: str
) -> None:
    before = session_of(app, alice.token)

    response = api.client.post(
        "/api/token/refresh", json={"refresh_token": without(alice.refresh_token, claim)}
    )

    assert_unauthorized(response)
    assert session_of(app, alice.token) == before
    assert api.get("/api/me", alice.token).status_code == 200


def test_request_with_complete_forged_token_of_unknown_type_returns_401(
    api: ApiClient, alice: Account
) -> None:
    token = jwt.encode(future_claims(alice.token, type="id"), TEST_JWT_KEY, algorithm="HS256")

    assert_unauthorized(api.get("/api/me", token))


def test_socket_with_complete_forged_token_connects(app: Flask, alice: Account) -> None:
    """The control for the refusals below: the re-signed token itself is good."""
    token = jwt.encode(future_claims(alice.token), TEST_JWT_KEY, algorithm="HS256")

    assert socket_refusal(app, token) is None


@pytest.mark.parametrize("claim", REQUIRED)
def test_socket_with_access_token_missing_a_claim_is_refused_as_invalid(
    app: Flask, alice: Account, claim: str
) -> None:
    refusal = socket_refusal(app, without(alice.token, claim))

    assert refusal == {"reason": "invalid_token", "retry": False}


# --- the key that signs tokens -------------------------------------------------------


def test_request_with_token_signed_by_the_raw_secret_key_returns_401(
    api: ApiClient, alice: Account
) -> None:
    """JWTs are signed with a key derived from SECRET_KEY, never with SECRET_KEY itself."""
    token = jwt.encode(future_claims(alice.token), TEST_SECRET, algorithm="HS256")

    assert_unauthorized(api.get("/api/me", token))


def test_issued_tokens_verify_with_the_derived_key_only(alice: Account) -> None:
    assert claims_of(alice.token)["sub"] == str(alice.id)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(alice.token, TEST_SECRET, algorithms=["HS256"])


# --- the Bearer scheme's spelling ---------------------------------------------------


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_request_with_bearer_scheme_in_any_case_returns_200(
    api: ApiClient, alice: Account, scheme: str
) -> None:
    response = api.client.get("/api/me", headers={"Authorization": f"{scheme} {alice.token}"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == alice.id


def test_request_with_lowercase_bearer_and_bad_token_returns_401(api: ApiClient) -> None:
    assert_unauthorized(api.client.get("/api/me", headers={"Authorization": "bearer garbage"}))
