"""Scale-out, proven here: two ``doable serve`` instances on one PostgreSQL and one
Redis (the first with two workers). Rate limits, token revocation and Socket.IO events
must hold across them, as docs/deploy.md promises."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.conftest import (
    REDIS_TEST_URL,
    _create_postgres_database,
    _drop_postgres_database,
)
from tests.support.factories import PASSWORD
from tests.support.realtime import listen, new_user
from tests.support.servers import running_server, server_env

pytestmark = pytest.mark.slow
API_LIMIT = 6


@pytest.fixture(scope="module")
def instances(
    postgres_admin_engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    import redis

    from tests.conftest import service_missing

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        service_missing(f"Redis is not reachable at {REDIS_TEST_URL}")
    tmp = tmp_path_factory.mktemp("scale-out")
    prefix = f"doable-test-{uuid.uuid4().hex[:12]}"
    with ExitStack() as stack:
        name, database_url = _create_postgres_database(postgres_admin_engine)
        stack.callback(_drop_postgres_database, postgres_admin_engine, name)
        stack.callback(_forget, prefix)
        env = server_env(
            database_url,
            tmp,
            REDIS_URL=REDIS_TEST_URL,
            DOABLE_ENV="production",
            DOABLE_UPLOAD_DIR=str(tmp / "uploads"),  # shared, as on one NFS volume
            DOABLE_REDIS_PREFIX=prefix,
            DOABLE_AUTH_RATE_LIMIT="1000 per minute",
            DOABLE_API_RATE_LIMIT=f"{API_LIMIT} per minute",
            DOABLE_REALTIME_TRANSPORTS="websocket",  # several workers on one port
        )
        first = stack.enter_context(
            running_server(env, "--workers", "2", log_path=Path(tmp / "a.log"))
        )
        second = stack.enter_context(running_server(env, log_path=Path(tmp / "b.log")))
        yield first, second


def _forget(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_a_user_s_api_budget_is_shared_by_both_instances(instances):
    first, second = instances
    user = new_user(first)
    statuses = [
        user.call("GET", "/api/me", base=(first, second)[n % 2]).status_code
        for n in range(API_LIMIT + 2)
    ]
    assert statuses == [200] * API_LIMIT + [429, 429]


def test_a_logout_on_one_instance_ends_the_token_on_the_other_at_once(instances):
    first, second = instances
    user = new_user(first)
    assert user.call("GET", "/api/me", base=second).status_code == 200
    assert user.call("POST", "/api/logout", base=second).status_code == 204
    refused = user.call("GET", "/api/me", base=first)
    assert refused.status_code == 401
    refresh = requests.post(
        f"{first}/api/token/refresh", json={"refresh_token": user.refresh_token}, timeout=5
    )
    assert refresh.status_code == 401


def test_a_login_each_process_kept_ends_in_all_of_them_at_once(instances):
    """Every process that answered the login keeps it (docs/deploy.md, "Logins kept per
    process"); the password change through one ends it on its very next request in
    every other, with no wait for any message."""
    first, second = instances
    user = new_user(first)
    # Within API_LIMIT: the first instance's two workers share its calls.
    kept = [user.call("GET", "/api/me", base=base).status_code for base in (first, second) * 2]
    assert kept == [200] * 4
    body = {"current_password": PASSWORD, "password": "another long passphrase"}

    assert user.call("PATCH", "/api/me", base=second, json=body).status_code == 200

    ended = [user.call("GET", "/api/me", base=base).status_code for base in (second, first, first)]
    assert ended == [401] * 3


def test_a_refresh_token_reused_on_the_other_instance_revokes_the_login(instances):
    first, second = instances
    user = new_user(first)
    body = {"refresh_token": user.refresh_token}
    rotated = requests.post(f"{first}/api/token/refresh", json=body, timeout=5)
    assert rotated.status_code == 200
    assert requests.post(f"{second}/api/token/refresh", json=body, timeout=5).status_code == 401
    new_token = rotated.json()["token"]
    me = requests.get(
        f"{first}/api/me", headers={"Authorization": f"Bearer {new_token}"}, timeout=5
    )
    assert me.status_code == 401  # theft suspected: the whole login is gone


def test_events_and_socket_revocation_cross_instances(instances):
    first, second = instances
    owner = new_user(first)
    sharee = new_user(first)
    stranger = new_user(first)
    to_sharee, to_stranger = listen(sharee, first), listen(stranger, first)
    try:
        task = owner.call("POST", "/api/tasks", base=second, json={"title": "Across"}).json()
        shared = owner.call(
            "POST",
            f"/api/tasks/{task['id']}/share",
            base=second,
            json={"username": sharee.username, "permission": "edit"},
        )
        assert shared.status_code == 201
        assert to_sharee.expect("task_shared")["id"] == task["id"]
        edit = owner.call(
            "PATCH", f"/api/tasks/{task['id']}", base=second, json={"title": "Edited"}
        )
        assert edit.status_code == 200
        assert to_sharee.expect("task_updated")["title"] == "Edited"
        to_stranger.assert_quiet()

        # The sharee changes their password through the second instance: their socket
        # on the first instance is dropped, and their new login works on both.
        changed = sharee.call(
            "PATCH",
            "/api/me",
            base=second,
            json={"current_password": PASSWORD, "password": "another passphrase"},
        )
        assert changed.status_code == 200
        assert to_sharee.disconnected.wait(5)
    finally:
        to_sharee.close()
        to_stranger.close()
