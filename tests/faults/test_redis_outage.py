"""Fault: Redis stops.

Two gunicorn workers share rate limits, socket lists, event ids and Socket.IO messages
through a Redis of the test's own, which is killed and started again (empty: it keeps
nothing on disk). While it is away:

- the REST API keeps working (login, create, list, update), promptly, never a 5xx;
- ``/readyz`` answers 503 naming Redis (Redis is configured, so it is needed);
- the login rate limit **fails open** (README): logins over the limit go through;
- real time degrades: a new socket is refused with a reason, an open one stays open but
  hears nothing, and the write that would have sent the event still succeeds.

Once Redis is back, without restarting Doable: ``/readyz`` is 200, a new socket connects
and receives events, the socket kept open through the outage receives them again (each
worker's Redis listener resubscribes), and logins are limited again.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.faults.conftest import (
    RedisServer,
    assert_clean_problem,
    log_records,
    readiness,
    server_env,
)
from tests.support.factories import PASSWORD, Account
from tests.support.realtime import Listener, listen, new_user, refused
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

LIMIT = 5  # logins and registrations per minute per address
PROMPT = 2.0  # seconds any API request may take while Redis is away
DOWN_FOR = 3.0  # seconds Redis stays away
RECOVERY_LIMIT = 20.0  # seconds real time may take to work again once Redis is back


def login(base: str, username: str) -> requests.Response:
    body = {"username": username, "password": PASSWORD}
    return requests.post(f"{base}/api/login", json=body, timeout=10)


def logins_until_limited(base: str, username: str, attempts: int) -> int:
    """How many logins succeed before the first 429 (``attempts`` if none is refused)."""
    for number in range(attempts):
        answer = login(base, username)
        if answer.status_code == 429:
            assert_clean_problem(answer, 429)
            assert answer.headers["Retry-After"].isdigit()
            return number
        assert answer.status_code == 200, answer.text
    return attempts


def timed(call: Callable[[], requests.Response]) -> requests.Response:
    """``call()``'s answer, which must come within ``PROMPT`` seconds."""
    started = time.monotonic()
    answer = call()
    elapsed = time.monotonic() - started
    assert elapsed < PROMPT, f"{answer.request.method} {answer.url} took {elapsed:.1f}s"
    return answer


def created_event_of(
    listener: Listener, task_ids: set[int], timeout: float
) -> dict[str, Any] | None:
    """The first ``task_created`` for one of ``task_ids`` heard within ``timeout``."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            name, data = listener.next(timeout=left)
        except AssertionError:
            return None
        if name == "task_created" and data["id"] in task_ids:
            return data  # type: ignore[no-any-return]
    return None


def create_until_heard(
    listener_of: Callable[[], Listener | None],
    tasks: str,
    auth: dict[str, str],
    created_ids: set[int],
    deadline: float,
) -> dict[str, Any] | None:
    """Create tasks until the listener hears one of them; bounded by count and time."""
    for number in range(100):
        if time.monotonic() > deadline:
            return None
        listener = listener_of()
        if listener is None:
            time.sleep(0.2)
            continue
        answer = requests.post(tasks, json={"title": f"after {number}"}, headers=auth, timeout=10)
        assert answer.status_code == 201, answer.text
        created_ids.add(answer.json()["id"])
        heard = created_event_of(listener, created_ids, timeout=0.5)
        if heard:
            return heard
    return None


def test_redis_outage_keeps_the_api_up_fails_open_and_real_time_recovers(
    own_redis: RedisServer, tmp_path: Path
):
    log_path = tmp_path / "serve.log"
    env = server_env(
        f"sqlite:///{tmp_path / 'doable.sqlite3'}",
        tmp_path,
        REDIS_URL=own_redis.url,
        DOABLE_RATELIMIT_ENABLED="true",
        DOABLE_AUTH_RATE_LIMIT=f"{LIMIT} per minute",
        DOABLE_REALTIME_TRANSPORTS="websocket",  # several workers on one port
    )
    listeners: list[Listener] = []
    with running_server(env, "--workers", "2", log_path=log_path) as base:
        try:
            alice: Account = new_user(base, "faults")  # a registration and a login: 2 of LIMIT
            auth = {"Authorization": f"Bearer {alice.token}"}
            tasks = f"{base}/api/tasks"
            kept_open = listen(alice)
            listeners.append(kept_open)
            first = requests.post(tasks, json={"title": "before"}, headers=auth, timeout=10)
            heard_before = kept_open.expect("task_created")
            assert heard_before["id"] == first.json()["id"]
            last_before = heard_before["seq"]
            assert logins_until_limited(base, alice.username, LIMIT) == LIMIT - 2

            own_redis.stop(signal.SIGKILL)
            stopped_at = time.monotonic()

            ready = timed(lambda: readiness(base, 503))
            assert ready.json()["checks"] == {"database": "ok", "redis": "unavailable"}
            assert "Traceback" not in ready.text
            # Fail open: the limit was used up before the outage, yet logins go through
            for _ in range(LIMIT + 2):
                assert timed(lambda: login(base, alice.username)).status_code == 200
            created = timed(
                lambda: requests.post(tasks, json={"title": "during"}, headers=auth, timeout=10)
            )
            assert created.status_code == 201, created.text
            task_url = f"{tasks}/{created.json()['id']}"
            updated = timed(
                lambda: requests.patch(
                    task_url, json={"status": "completed"}, headers=auth, timeout=10
                )
            )
            assert updated.status_code == 200, updated.text
            listed = timed(lambda: requests.get(tasks, headers=auth, timeout=10))
            assert listed.status_code == 200
            assert {task["title"] for task in listed.json()["tasks"]} == {"before", "during"}
            # Real time degrades: no new sockets, the open one hears nothing but stays open
            refusal = refused(base, auth={"token": alice.token})
            assert (refusal["reason"], refusal["retry"]) == ("unavailable", True)
            kept_open.assert_quiet(0.5)
            assert kept_open.client.connected
            time.sleep(max(0.0, DOWN_FOR - (time.monotonic() - stopped_at)))
            down_for = time.monotonic() - stopped_at

            own_redis.start()
            restarted_at = time.monotonic()

            readiness(base, 200)
            created_ids: set[int] = set()
            deadline = time.monotonic() + RECOVERY_LIMIT
            newcomers: list[Listener] = []

            def newcomer() -> Listener | None:
                if not newcomers:
                    try:
                        newcomers.append(listen(alice))
                    except Exception:  # refused until the worker's registry answers
                        return None
                    listeners.append(newcomers[0])
                return newcomers[0]

            heard = create_until_heard(newcomer, tasks, auth, created_ids, deadline)
            assert heard, f"no event reached a new socket within {RECOVERY_LIMIT}s"
            realtime_back_in = time.monotonic() - restarted_at
            # The socket kept open through the outage hears new events too, once its own
            # worker has resubscribed (python-socketio retries after 1, 2, 4... s; what
            # was published before that is lost, and its seq shows the gap).
            first_after = create_until_heard(lambda: kept_open, tasks, auth, created_ids, deadline)
            assert first_after, f"the open socket heard nothing within {RECOVERY_LIMIT}s"
            assert first_after["seq"] > last_before + 1  # lost events show as a gap
            # ... and are all in the feed, which never needed Redis.
            feed = requests.get(
                f"{base}/api/events?after={last_before}&limit=500", headers=auth, timeout=10
            ).json()
            seqs = [event["seq"] for event in feed["events"]]
            assert seqs == list(range(last_before + 1, last_before + 1 + len(seqs)))
            assert first_after["seq"] in seqs
            assert [e["action"] for e in feed["events"][:2]] == ["created", "updated"]
            # The limiter counts again (Redis came back empty: a fresh window)
            assert logins_until_limited(base, alice.username, LIMIT + 1) == LIMIT
        finally:
            for listener in listeners:
                listener.close()

    records = log_records(log_path)
    assert any(r["message"] == "Failed to rate limit. Swallowing error" for r in records)
    assert not [r for r in records if r["message"] in ("unhandled error", "Error handling request")]
    access = [r for r in records if r["logger"] == "doable.access"]
    assert not [r for r in access if r["status"] >= 500 and r["path"] != "/readyz"]
    print(
        f"Redis down {down_for:.1f}s: API answered within {PROMPT}s, logins failed open, "
        f"sockets refused; real time back {realtime_back_in:.1f}s after Redis returned"
    )
