"""Fault: a gunicorn worker is killed (SIGKILL, as the OOM killer would) under load.

Several clients create tasks with unique titles as fast as they can on ``doable serve
--workers 2`` (PostgreSQL and Redis), recording every write acknowledged with a 201.
Meanwhile each of the two original workers is killed in turn; gunicorn replaces them.
Afterwards every acknowledged task exists with its title: a 201 means committed. A
request cut off by the kill may fail with a connection error (and may or may not have
been stored); none may get an error status, and nothing appears that no one sent.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.faults.conftest import log_records, register_and_log_in, server_env, wait_until
from tests.support.servers import start_server, stop_server

pytestmark = pytest.mark.slow

CLIENTS = 6
LOAD_FOR = 8.0  # seconds of traffic; the kills happen inside it
KILL_AT = (1.5, 4.0)  # seconds into the traffic: the first worker, then the other original


def worker_pids(master: int) -> set[int]:
    """The gunicorn master's child processes (its workers), from /proc."""
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").iterdir():
        try:
            children.update(int(pid) for pid in (task / "children").read_text().split())
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return children


@dataclass
class Writer:
    """Creates tasks until ``until``; remembers what was acknowledged and what failed."""

    base: str
    token: str
    name: str
    until: float
    acknowledged: dict[int, str] = field(default_factory=dict)
    attempted: set[str] = field(default_factory=set)
    connection_errors: list[str] = field(default_factory=list)
    bad_answers: list[str] = field(default_factory=list)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        for number in range(100_000):
            if time.monotonic() > self.until:
                return
            title = f"{self.name}-{number}-{uuid.uuid4().hex[:8]}"
            self.attempted.add(title)
            try:
                answer = requests.post(
                    f"{self.base}/api/tasks", json={"title": title}, headers=headers, timeout=10
                )
            except requests.RequestException as exc:
                self.connection_errors.append(repr(exc))
                continue
            if answer.status_code == 201 and answer.json()["title"] == title:
                self.acknowledged[answer.json()["id"]] = title
            else:
                self.bad_answers.append(f"{answer.status_code} {answer.text[:200]}")


def stored_titles(base: str, token: str) -> dict[int, str]:
    """Every task the user can see, by id, walking the pages (bounded)."""
    headers = {"Authorization": f"Bearer {token}"}
    seen: dict[int, str] = {}
    for page in range(1, 1000):
        listed = requests.get(
            f"{base}/api/tasks",
            params={"per_page": 100, "page": page, "sort": "created_at"},
            headers=headers,
            timeout=10,
        )
        assert listed.status_code == 200, listed.text
        body = listed.json()
        seen.update((task["id"], task["title"]) for task in body["tasks"])
        if page >= body["pages"]:
            return seen
    raise AssertionError("too many pages")


@pytest.fixture
def own_database_url(postgres_admin_engine: sa.Engine) -> Iterator[str]:
    name, url = _create_postgres_database(postgres_admin_engine)
    yield url
    _drop_postgres_database(postgres_admin_engine, name)


def test_killing_workers_under_load_loses_no_acknowledged_write(
    own_database_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
):
    log_path = tmp_path / "serve.log"
    env = server_env(
        own_database_url,
        tmp_path,
        REDIS_URL=redis_url,
        DOABLE_REDIS_PREFIX=redis_prefix,
        DOABLE_REALTIME_TRANSPORTS="websocket",  # several workers on one port
    )
    process, base = start_server(env, "--workers", "2", log_path=log_path)
    killed: list[int] = []
    try:
        wait_until(lambda: len(worker_pids(process.pid)) == 2, 10, what="two workers")
        originals = sorted(worker_pids(process.pid))
        tokens = [register_and_log_in(base, f"writer{index}") for index in range(CLIENTS)]
        until = time.monotonic() + LOAD_FOR
        writers = [
            Writer(base, token, f"writer{index}", until) for index, token in enumerate(tokens)
        ]
        threads = [threading.Thread(target=writer.run, daemon=True) for writer in writers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for at, victim in zip(KILL_AT, originals, strict=True):
            time.sleep(max(0.0, started + at - time.monotonic()))
            assert sum(len(w.acknowledged) for w in writers) > 0, "no load yet"
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            wait_until(
                lambda victim=victim: (
                    victim not in (pids := worker_pids(process.pid)) and len(pids) == 2
                ),
                10,
                what=f"gunicorn replacing worker {victim}",
            )
        for thread in threads:
            thread.join(timeout=LOAD_FOR + 15)
        assert not any(thread.is_alive() for thread in threads)
        assert not set(originals) & worker_pids(process.pid)

        acknowledged = sum(len(writer.acknowledged) for writer in writers)
        errors = sum(len(writer.connection_errors) for writer in writers)
        for writer, token in zip(writers, tokens, strict=True):
            assert not writer.bad_answers, writer.bad_answers[:3]
            stored = stored_titles(base, token)
            missing = {i: t for i, t in writer.acknowledged.items() if stored.get(i) != t}
            assert not missing, f"acknowledged but not stored: {missing}"
            assert set(stored.values()) <= writer.attempted  # nothing nobody sent
    finally:
        stop_server(process)

    records = log_records(log_path)
    for victim in killed:
        assert any(
            f"Worker (pid:{victim}) was sent SIGKILL" in record["message"] for record in records
        ), victim
    access = [r for r in records if r["logger"] == "doable.access"]
    assert {r["status"] for r in access} <= {200, 201}, {r["status"] for r in access}
    print(
        f"{CLIENTS} writers for {LOAD_FOR}s, workers {killed} SIGKILLed: {acknowledged} writes "
        f"acknowledged, all stored; {errors} requests cut off with a connection error"
    )
