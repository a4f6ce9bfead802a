"""Fault: PostgreSQL restarts while clients are using the service.

While the database is down, ``/readyz`` says 503 and every API request that needs the
database answers a 503 Problem Details document with ``Retry-After``, never a 500 or a
traceback; once it is back, requests succeed again through the same server processes
(the pool tests connections that idled and replaces the dead ones), within a bounded time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.faults.conftest import (
    PostgresServer,
    assert_clean_problem,
    log_records,
    readiness,
    register_and_log_in,
    server_env,
    wait_until,
)
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

DOWN_FOR = 2.0  # seconds the database stays down
RECOVERY_LIMIT = 10.0  # seconds the service may take to answer again once it is back
TRAFFIC_LIMIT = 60.0  # the background traffic stops by itself after this, whatever happens


@dataclass
class Traffic:
    """Authenticated reads and writes in a loop until stopped; every answer recorded."""

    base: str
    token: str
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[requests.Response] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        deadline = time.monotonic() + TRAFFIC_LIMIT
        for number in range(5000):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            try:
                if number % 2:
                    answer = requests.get(f"{self.base}/api/tasks", headers=headers, timeout=10)
                else:
                    body = {"title": f"traffic {number}"}
                    answer = requests.post(
                        f"{self.base}/api/tasks", json=body, headers=headers, timeout=10
                    )
            except requests.RequestException as exc:  # a server that answers nothing
                self.failures.append(repr(exc))
            else:
                self.answers.append(answer)
            time.sleep(0.02)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_gives_503_then_recovers_without_restarting_doable(
    own_postgres: PostgresServer, tmp_path: Path, mode: str
):
    """``fast``: PostgreSQL ends every session cleanly; ``immediate``: as if it crashed
    (its connections vanish, crash recovery on restart)."""
    database_url = own_postgres.create_database("doable")
    log_path = tmp_path / "serve.log"
    env = server_env(database_url, tmp_path)
    with running_server(env, log_path=log_path) as base:
        token = register_and_log_in(base, "alice")
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
        traffic = Traffic(base, token)
        worker = threading.Thread(target=traffic.run, daemon=True)
        worker.start()
        try:
            wait_until(lambda: len(traffic.answers) >= 10, 10, what="traffic before the fault")

            own_postgres.stop(mode)
            stopped_at = time.monotonic()
            ready = readiness(base, 503)
            assert ready.json()["checks"]["database"] == "unavailable"
            assert "Traceback" not in ready.text
            for method, path, body in (
                ("GET", "/api/tasks", None),
                ("POST", "/api/tasks", {"title": "while the database is down"}),
                ("GET", "/api/me", None),
            ):
                answer = requests.request(
                    method, f"{base}{path}", json=body, headers=headers, timeout=10
                )
                problem = assert_clean_problem(answer, 503)
                assert answer.headers["Retry-After"].isdigit(), answer.headers
                assert "unavailable" in problem["detail"]
            # Logging in (a write through a different path) fails as cleanly
            login = requests.post(
                f"{base}/api/login",
                json={"username": "alice", "password": "correct horse battery"},
                timeout=10,
            )
            assert_clean_problem(login, 503)
            time.sleep(max(0.0, DOWN_FOR - (time.monotonic() - stopped_at)))
            answers_while_down = len(traffic.answers)

            own_postgres.start()
            restarted_at = time.monotonic()

            def works_again() -> bool:
                created = requests.post(
                    f"{base}/api/tasks", json={"title": "after"}, headers=headers, timeout=10
                )
                return created.status_code == 201

            recovered_in = wait_until(works_again, RECOVERY_LIMIT, what="a write after restart")
            readiness(base, 200)
            listed = requests.get(f"{base}/api/tasks", headers=headers, timeout=10)
            assert listed.status_code == 200
            wait_until(
                lambda: len(traffic.answers) >= answers_while_down + 10,
                10,
                what="background traffic after the restart",
            )
        finally:
            traffic.stop.set()
            worker.join(timeout=15)
        assert not worker.is_alive()

    statuses = Counter(answer.status_code for answer in traffic.answers)
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses[503] > 0, f"the traffic never saw the outage: {statuses}"
    for answer in traffic.answers:
        if answer.status_code == 503:
            assert_clean_problem(answer, 503)
            assert "Retry-After" in answer.headers
    assert not traffic.failures, traffic.failures[:5]
    # The last answers came after the restart and all succeeded
    assert {answer.status_code for answer in traffic.answers[-5:]} <= {200, 201}

    records = log_records(log_path)
    unhandled = [
        r for r in records if r["message"] in ("unhandled error", "Error handling request")
    ]
    assert not unhandled, unhandled[:2]
    assert any(r["message"].startswith("database unavailable") for r in records)
    access = [r for r in records if r["logger"] == "doable.access"]
    assert {r["status"] for r in access} <= {200, 201, 503}, {r["status"] for r in access}
    print(
        f"PG stopped ({mode}) for {DOWN_FOR:.1f}s: {statuses[503]} answers 503 with Retry-After, "
        f"recovered {recovered_in:.2f}s after PostgreSQL was back "
        f"({time.monotonic() - restarted_at:.1f}s ago); traffic statuses {dict(statuses)}"
    )
