"""``doable serve``'s worker: one connection's CPU-bound work does not stall the others."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.realtime import new_user
from tests.support.servers import running_server, server_env

pytestmark = pytest.mark.slow


def test_password_hashing_does_not_stall_the_other_connections(tmp_path: Path):
    """Each login hashes for about a second here (argon2 is CPU-bound). On the event
    loop that would hold every other connection of the worker until the hashes ended;
    on the thread pool beside it, a health check answers while they run."""
    env = server_env(
        f"sqlite:///{tmp_path / 'doable.sqlite3'}",
        tmp_path,
        DOABLE_RATELIMIT_ENABLED="false",
        DOABLE_ARGON2_TIME_COST="20",
        DOABLE_ARGON2_MEMORY_COST="65536",
    )
    with running_server(env, log_path=tmp_path / "serve.log") as base:
        body = {"username": "alice", "email": "alice@example.com", "password": "secret123"}
        assert requests.post(f"{base}/api/register", json=body, timeout=30).status_code == 201
        finished: list[float] = []

        def log_in() -> None:
            login = {"username": "alice", "password": "secret123"}
            assert requests.post(f"{base}/api/login", json=login, timeout=30).status_code == 200
            finished.append(time.monotonic())

        started = time.monotonic()
        logins = [threading.Thread(target=log_in) for _ in range(2)]
        for thread in logins:
            thread.start()
        checked = [started]
        while len(finished) < 2 and time.monotonic() - started < 30:
            assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
            checked.append(time.monotonic())
        for thread in logins:
            thread.join(30)
        assert len(finished) == 2
        # While the hashes ran (a second or more each, one after the other on a stalled
        # loop), health checks kept being answered: no wait anywhere near a hash's length.
        during = [at for at in checked if at <= min(finished)]
        gaps = [later - earlier for earlier, later in itertools.pairwise(during)]
        assert min(finished) - started > 0.8, "the logins were too quick to tell"
        assert len(gaps) > 1, "no health check was answered while the logins hashed"
        assert max(gaps) < 0.5, gaps


def test_a_wrong_password_is_a_401_and_nothing_in_the_log(tmp_path: Path):
    """The hash is checked on the thread pool; its "no match" comes back as an answer,
    not also as a traceback the pool prints."""
    env = server_env(f"sqlite:///{tmp_path / 'doable.sqlite3'}", tmp_path)
    log = tmp_path / "serve.log"
    with running_server(env, log_path=log) as base:
        body = {"username": "bob", "email": "bob@example.com", "password": "secret123"}
        assert requests.post(f"{base}/api/register", json=body, timeout=30).status_code == 201
        wrong = {"username": "bob", "password": "not-his-password"}
        assert requests.post(f"{base}/api/login", json=wrong, timeout=30).status_code == 401
        nobody = {"username": "nobody", "password": "not-a-password"}
        assert requests.post(f"{base}/api/login", json=nobody, timeout=30).status_code == 401
    assert "Traceback" not in log.read_text()


def test_searches_on_the_thread_pool_answer_right_beside_concurrent_writes(tmp_path: Path):
    """On SQLite, ``doable serve`` runs full-text searches on the thread pool
    (``doable.db.CooperativeCursor``): they find what they should, and writes made at
    the same time neither wait for them nor stall (each write stays on the loop)."""
    env = server_env(f"sqlite:///{tmp_path / 'doable.sqlite3'}", tmp_path)
    with running_server(env, log_path=tmp_path / "serve.log") as base:
        auth = new_user(base).auth
        for n in range(10):
            title = f"needle {n}" if n % 2 else f"haystack {n}"
            created = requests.post(
                f"{base}/api/tasks", json={"title": title}, headers=auth, timeout=30
            )
            assert created.status_code == 201

        failures: list[str] = []
        needles = {f"needle {n}" for n in (1, 3, 5, 7, 9)}

        def search() -> None:
            for _ in range(10):
                found = requests.get(
                    f"{base}/api/tasks", params={"q": "needle"}, headers=auth, timeout=30
                )
                titles = {task["title"] for task in found.json()["tasks"]}
                if found.status_code != 200 or titles != needles:
                    failures.append(f"search: {found.status_code} {sorted(titles)}")

        def write(worker: int) -> None:
            for n in range(10):
                made = requests.post(
                    f"{base}/api/tasks",
                    json={"title": f"thread from {worker}-{n}"},
                    headers=auth,
                    timeout=30,
                )
                if made.status_code != 201:
                    failures.append(f"write: {made.status_code} {made.text}")

        workers = [threading.Thread(target=search) for _ in range(4)]
        workers += [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(60)
        assert not any(thread.is_alive() for thread in workers), "a request hung"
        assert failures == []
        written = requests.get(
            f"{base}/api/tasks", params={"q": "thread"}, headers=auth, timeout=30
        ).json()
        assert written["total"] == 4 * 10


def test_a_write_waiting_for_another_process_lets_the_worker_serve_the_rest(tmp_path: Path):
    """Another process holds SQLite's write lock: a write waits for it, then succeeds,
    and meanwhile the worker goes on answering reads (``doable.db.CooperativeCursor``
    waits with gevent's sleep; SQLite's own busy handler sleeps in C and would stop the
    whole worker until the lock came free)."""
    database = tmp_path / "doable.sqlite3"
    env = server_env(f"sqlite:///{database}", tmp_path, DOABLE_RATELIMIT_ENABLED="false")
    with running_server(env, log_path=tmp_path / "serve.log") as base:
        auth = new_user(base).auth

        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write, in progress
        answers: list[int] = []

        def write() -> None:
            made = requests.post(
                f"{base}/api/tasks", json={"title": "after the lock"}, headers=auth, timeout=30
            )
            answers.append(made.status_code)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            for _ in range(50):  # a stalled worker would leave these unanswered
                read = requests.get(f"{base}/api/tasks", headers=auth, timeout=5)
                assert read.status_code == 200
            assert answers == [], "the write went through while another process held the lock"
        finally:
            holder.execute("COMMIT")
            holder.close()
        writer.join(30)
        assert answers == [201]
        listed = requests.get(f"{base}/api/tasks", headers=auth, timeout=30).json()
        assert [task["title"] for task in listed["tasks"]] == ["after the lock"]
