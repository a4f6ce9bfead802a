"""Who may open a socket (docs/api.md, Real-time events), and how long it stays open,
over real servers."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.conftest import TEST_JWT_KEY
from tests.support.factories import PASSWORD
from tests.support.realtime import Listener, listen, log_in, new_user, refused

pytestmark = pytest.mark.slow


def forged_access_token(user_id: int, session_id: str, **claims) -> str:
    now = int(time.time())
    body = {
        "sub": str(user_id),
        "sid": session_id,
        "type": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": "t",
        "fresh": False,
        **claims,
    }
    return jwt.encode(body, TEST_JWT_KEY, algorithm="HS256")


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_valid_access_token_connects(deployment):
    user = new_user(deployment.change_url)
    listener = listen(user, deployment.listen_url)
    try:
        assert listener.client.connected
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("auth", "reason", "says"),
    [
        (None, "auth_required", "Authentication required"),
        ({}, "auth_required", "Authentication required"),
        ({"token": ""}, "invalid_token", "Invalid token"),
        ({"token": "not-a-jwt"}, "invalid_token", "Invalid token"),
        ({"token": 42}, "invalid_auth", 'auth={"token"'),
        ({"token": "x", "user_id": 1}, "invalid_auth", 'auth={"token"'),
        ("a string", "invalid_auth", 'auth={"token"'),
    ],
)
def test_missing_or_malformed_credentials_are_refused_for_good(deployment, auth, reason, says):
    refusal = refused(deployment.listen_url, auth=auth)
    assert refusal["reason"] == reason
    assert says in refusal["message"]
    assert refusal["retry"] is False


def test_expired_tampered_refresh_and_foreign_tokens_are_refused(deployment):
    user = new_user(deployment.change_url)
    claims = claims_of(user.token)
    expired = forged_access_token(user.id, claims["sid"], exp=int(time.time()) - 5)
    refusal = refused(deployment.listen_url, auth={"token": expired})
    assert refusal["reason"] == "token_expired"  # distinct: refresh, then reconnect
    assert "/api/token/refresh" in refusal["message"]
    assert refusal["retry"] is False

    header, body, signature = user.token.split(".")
    tampered = f"{header}.{body}.{signature[:-4]}AAAA"
    assert refused(deployment.listen_url, auth={"token": tampered})["reason"] == "invalid_token"

    wrong_key = jwt.encode(claims, "another-secret-of-sufficient-length-123", algorithm="HS256")
    assert refused(deployment.listen_url, auth={"token": wrong_key})["reason"] == "invalid_token"

    unsigned = jwt.encode(claims, None, algorithm="none")
    assert refused(deployment.listen_url, auth={"token": unsigned})["reason"] == "invalid_token"

    refresh = {"token": user.refresh_token}
    refusal = refused(deployment.listen_url, auth=refresh)
    assert (refusal["reason"], refusal["message"]) == ("invalid_token", "Not an access token")

    other_session = forged_access_token(user.id, "0" * 32)
    refusal = refused(deployment.listen_url, auth={"token": other_session})
    assert (refusal["reason"], refusal["retry"]) == ("revoked", False)


def test_a_logged_out_token_is_refused_and_its_open_socket_dropped(deployment):
    user = new_user(deployment.change_url)
    other_login = log_in(deployment.change_url, user.username, user.id)
    dropped = listen(user, deployment.listen_url)
    kept = listen(other_login, deployment.listen_url)
    try:
        assert user.call("POST", "/api/logout", base=deployment.change_url).status_code == 204

        assert dropped.disconnected.wait(5), "the revoked login's socket stayed open"
        assert refused(deployment.listen_url, auth={"token": user.token})["reason"] == "revoked"
        # The user's other login is untouched and still receives events.
        kept.assert_quiet()
        assert kept.client.connected
        created = other_login.call(
            "POST", "/api/tasks", base=deployment.change_url, json={"title": "Still here"}
        )
        assert kept.expect("task_created")["id"] == created.json()["id"]
    finally:
        dropped.close()
        kept.close()


def test_a_password_change_drops_every_socket_of_the_user(deployment):
    user = new_user(deployment.change_url)
    second = log_in(deployment.change_url, user.username, user.id)
    sockets = [listen(user, deployment.listen_url), listen(second, deployment.listen_url)]
    try:
        changed = user.call(
            "PATCH",
            "/api/me",
            base=deployment.change_url,
            json={"current_password": PASSWORD, "password": "a brand new passphrase"},
        )
        assert changed.status_code == 200, changed.text
        for listener in sockets:
            assert listener.disconnected.wait(5), "a socket of a revoked login stayed open"
    finally:
        for listener in sockets:
            listener.close()


def test_reusing_a_refresh_token_drops_the_sockets_of_that_login(deployment):
    user = new_user(deployment.change_url)
    listener = listen(user, deployment.listen_url)
    try:
        refresh = {"refresh_token": user.refresh_token}
        url = f"{deployment.change_url}/api/token/refresh"
        import requests

        assert requests.post(url, json=refresh, timeout=5).status_code == 200
        assert requests.post(url, json=refresh, timeout=5).status_code == 401  # reuse
        assert listener.disconnected.wait(5)
    finally:
        listener.close()


def test_a_foreign_origin_is_refused_and_an_allowed_one_accepted(deployment):
    user = new_user(deployment.change_url)
    auth = {"token": user.token}
    assert (
        "Connection error"
        in refused(deployment.listen_url, auth=auth, origin="https://evil.example.net")["message"]
    )
    for origin in ("https://tasks.example.org", deployment.listen_url):
        listener = Listener(origin).connect(deployment.listen_url, auth=auth)
        try:
            assert listener.client.connected
        finally:
            listener.close()


def test_long_polling_is_offered_where_one_process_serves(deployment):
    """One process serves polling (then the upgrade); where the first instance runs two
    workers on one port, polling is off and says so with a 400 (doable serve's rule)."""
    import requests

    response = requests.get(
        f"{deployment.listen_url}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        timeout=5,
    )
    if deployment.backend == "sqlite":
        assert response.status_code == 200
        assert response.text.startswith("0{")
        assert '"upgrades":["websocket"]' in response.text
    else:
        assert response.status_code == 400


def test_a_socket_whose_login_ended_unannounced_is_dropped_by_the_next_check(deployment):
    """A revocation whose drop message was lost (Redis away at that moment), or a login
    that expired: each process re-checks the logins of its sockets (every second here)."""
    import sqlalchemy as sa

    user = new_user(deployment.change_url)
    listener = listen(user, deployment.listen_url)
    engine = sa.create_engine(deployment.database_url)
    try:
        with engine.begin() as connection:  # behind Doable's back: no signal, no message
            connection.execute(
                sa.text("UPDATE auth_session SET expires_at = :past WHERE id = :sid"),
                {"past": "2000-01-01 00:00:00+00:00", "sid": claims_of(user.token)["sid"]},
            )
        assert listener.disconnected.wait(5), "the socket outlived its login"
    finally:
        listener.close()
        engine.dispose()
