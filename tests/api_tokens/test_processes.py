"""API tokens against real ``doable serve`` processes (tests/realtime/conftest.py: on
PostgreSQL two instances, the first with two workers, sharing Redis): a revocation holds
at once in every process, and Socket.IO takes a token holding ``events:read``."""

from __future__ import annotations

from typing import Any

import pytest
import socketio
import sqlalchemy as sa

from tests.realtime.conftest import deployment  # noqa: F401  (the servers, by backend)
from tests.support.factories import HTTP_WAIT, Account
from tests.support.realtime import Listener, new_user, refused

pytestmark = pytest.mark.slow


def _token(user: Account, base: str, scopes: list[str], **fields: Any) -> dict[str, Any]:
    body = {"name": "script", "scopes": scopes, **fields}
    created = user.call("POST", "/api/tokens", base=base, json=body)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def _as(token: str, method: str, url: str, **kwargs: Any) -> int:
    import requests

    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, url, headers=headers, timeout=HTTP_WAIT, **kwargs).status_code


def test_a_revoked_token_is_refused_at_once_by_every_process(deployment):  # noqa: F811
    user = new_user(deployment.change_url)
    created = _token(user, deployment.change_url, ["tasks:read"])
    token = created["token"]
    tasks = [f"{url}/api/tasks" for url in deployment.urls] * 3  # both workers of the first
    assert [_as(token, "GET", url) for url in tasks] == [200] * len(tasks)

    revoked = user.call("DELETE", f"/api/tokens/{created['id']}", base=deployment.change_url)

    assert revoked.status_code == 204
    assert [_as(token, "GET", url) for url in tasks] == [401] * len(tasks)


def test_a_token_with_events_read_connects_and_hears_changes(deployment):  # noqa: F811
    user = new_user(deployment.change_url)
    token = _token(user, deployment.change_url, ["events:read"])["token"]
    listener = Listener().connect(deployment.listen_url, auth={"token": token})
    try:
        created = user.call("POST", "/api/tasks", json={"title": "Heard"})
        assert created.status_code == 201
        assert listener.expect("task_created")["title"] == "Heard"
    finally:
        listener.close()


def test_a_token_in_the_authorization_header_connects(deployment):  # noqa: F811
    user = new_user(deployment.change_url)
    token = _token(user, deployment.change_url, ["events:read"])["token"]
    client = socketio.Client(reconnection=False)
    try:
        client.connect(
            deployment.listen_url,
            headers={"Authorization": f"Bearer {token}"},
            transports=["websocket"],
            wait_timeout=HTTP_WAIT,
        )
        assert client.connected
    finally:
        client.disconnect()


def test_a_token_without_events_read_is_refused_for_good(deployment):  # noqa: F811
    user = new_user(deployment.change_url)
    token = _token(user, deployment.change_url, ["tasks:read", "tasks:write"])["token"]

    refusal = refused(deployment.listen_url, auth={"token": token})

    assert refusal["reason"] == "insufficient_scope"
    assert "events:read" in refusal["message"]
    assert refusal["retry"] is False


def test_an_unknown_or_expired_token_is_refused(deployment):  # noqa: F811
    user = new_user(deployment.change_url)
    created = _token(user, deployment.change_url, ["events:read"])
    never_issued = "dbl_" + "a" * 40
    engine = sa.create_engine(deployment.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE api_token SET expires_at = :past WHERE id = :id"),
                {"past": "2000-01-01 00:00:00+00:00", "id": created["id"]},
            )
    finally:
        engine.dispose()

    assert refused(deployment.listen_url, auth={"token": never_issued})["reason"] == "invalid_token"
    assert refused(deployment.listen_url, auth={"token": created["token"]})["reason"] == (
        "token_expired"
    )


def test_revoking_a_token_drops_its_socket_and_refuses_it_at_once(deployment):  # noqa: F811
    user = new_user(deployment.change_url)
    created = _token(user, deployment.change_url, ["events:read"])
    kept = _token(user, deployment.change_url, ["events:read"])
    dropped = Listener().connect(deployment.listen_url, auth={"token": created["token"]})
    staying = Listener().connect(deployment.listen_url, auth={"token": kept["token"]})
    try:
        revoked = user.call("DELETE", f"/api/tokens/{created['id']}", base=deployment.change_url)

        assert revoked.status_code == 204
        assert dropped.disconnected.wait(HTTP_WAIT), "the revoked token's socket stayed open"
        refusal = refused(deployment.listen_url, auth={"token": created["token"]})
        assert refusal["reason"] == "invalid_token"
        user.call("POST", "/api/tasks", json={"title": "Still heard"})
        assert staying.expect("task_created")["title"] == "Still heard"
    finally:
        dropped.close()
        staying.close()


def test_a_password_change_keeps_api_token_sockets_open(deployment):  # noqa: F811
    user = new_user(deployment.change_url)
    token = _token(user, deployment.change_url, ["events:read", "tasks:write"])["token"]
    listener = Listener().connect(deployment.listen_url, auth={"token": token})
    try:
        body = {"current_password": user.password, "password": "another long passphrase"}
        assert user.call("PATCH", "/api/me", json=body).status_code == 200

        made = _as(token, "POST", f"{deployment.change_url}/api/tasks", json={"title": "After"})
        assert made == 201
        assert listener.expect("task_created")["title"] == "After"
        assert listener.client.connected
    finally:
        listener.close()


def test_an_api_token_socket_whose_token_expired_is_dropped_by_the_next_check(deployment):  # noqa: F811
    user = new_user(deployment.change_url)
    created = _token(user, deployment.change_url, ["events:read"])
    listener = Listener().connect(deployment.listen_url, auth={"token": created["token"]})
    engine = sa.create_engine(deployment.database_url)
    try:
        with engine.begin() as connection:  # no signal: the periodic re-check must see it
            connection.execute(
                sa.text("UPDATE api_token SET expires_at = :past WHERE id = :id"),
                {"past": "2000-01-01 00:00:00+00:00", "id": created["id"]},
            )
        assert listener.disconnected.wait(HTTP_WAIT), "the socket outlived its token"
    finally:
        listener.close()
        engine.dispose()
