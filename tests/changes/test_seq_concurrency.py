"""``seq`` per user is dense and strictly increasing under concurrent writers in several
processes (docs/api.md, Change feed): two ``doable serve`` processes on one database,
eight writer threads on each, several users editing tasks shared among them; then
every user's feed holds each change they could see exactly once, numbered 1, 2, 3…
with no gap, and a reader that followed a feed while it grew saw the same sequence."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.support.factories import HTTP_WAIT, Account
from tests.support.realtime import new_user
from tests.support.servers import running_server, server_env

pytestmark = pytest.mark.slow

USERS = 4
THREADS_PER_SERVER = 8
WRITES_PER_THREAD = 12


@pytest.fixture(params=["postgresql", "sqlite"])
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """The database's URL and two ``doable serve`` processes on it (started one after
    the other: the first migrates the new database)."""
    with ExitStack() as stack:
        if request.param == "postgresql":
            admin = request.getfixturevalue("postgres_admin_engine")
            name, url = _create_postgres_database(admin)
            stack.callback(_drop_postgres_database, admin, name)
        else:
            url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        env = server_env(url, tmp_path, DOABLE_UPLOAD_DIR=str(tmp_path / "uploads"))
        bases = [
            stack.enter_context(running_server(env, log_path=tmp_path / f"server{n}.log"))
            for n in range(2)
        ]
        yield url, bases


def test_every_feed_is_dense_and_holds_each_change_once_under_two_processes(
    servers: tuple[str, list[str]],
) -> None:
    url, bases = servers
    users = [new_user(bases[0], prefix="seq") for _ in range(USERS)]
    shared = _share_around(users)  # task id -> who can see it
    before = {user.id: _last_seq(user) for user in users}
    last_change = _last_change(url)
    stop = threading.Event()
    followed: dict[int, list[dict[str, Any]]] = {}
    follower = threading.Thread(target=_follow, args=(users[0], stop, followed))
    follower.start()

    failures: list[str] = []
    barrier = threading.Barrier(2 * THREADS_PER_SERVER, timeout=30)

    def write(n: int) -> None:
        base = bases[n % 2]
        rng = random.Random(n)
        barrier.wait()
        for step in range(WRITES_PER_THREAD):
            task_id = rng.choice(sorted(shared))
            writer = rng.choice(shared[task_id])
            if step % 4 == 3:  # now and then a task of one's own, seen by nobody else
                answer = writer.call("POST", "/api/tasks", base=base, json={"title": f"{n}"})
                expected = 201
            else:
                body = {"title": f"thread {n} step {step}"}
                answer = writer.call("PATCH", f"/api/tasks/{task_id}", base=base, json=body)
                expected = 200
            if answer.status_code != expected:
                failures.append(f"{answer.status_code} {answer.text}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2 * THREADS_PER_SERVER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    stop.set()
    follower.join(30)
    assert not any(thread.is_alive() for thread in [*threads, follower]), "a writer hung"
    assert failures == []

    recipients = _expected_recipients(url, shared, after=last_change)
    assert len(recipients) == 2 * THREADS_PER_SERVER * WRITES_PER_THREAD
    for user in users:
        events = _read_all(user, after=before[user.id])
        seqs = [event["seq"] for event in events]
        assert seqs == list(range(before[user.id] + 1, before[user.id] + 1 + len(seqs)))
        changes = [event["change_id"] for event in events]
        assert len(changes) == len(set(changes)), "a change twice in one feed"
        assert sorted(changes) == sorted(
            change for change, users_of in recipients.items() if user.id in users_of
        )
    following = users[0]
    assert followed[following.id] == _read_all(following, after=before[following.id])


def _share_around(users: list[Account]) -> dict[int, list[Account]]:
    """Each user owns two tasks, shared ``edit`` with the next one or two users; the
    tasks and who can see (and edit) each."""
    shared: dict[int, list[Account]] = {}
    for n, owner in enumerate(users):
        for reach in (1, 2):
            task = owner.call("POST", "/api/tasks", json={"title": f"of {owner.username}"})
            assert task.status_code == 201, task.text
            task_id = task.json()["id"]
            viewers = [owner]
            for k in range(1, reach + 1):
                other = users[(n + k) % len(users)]
                body = {"username": other.username, "permission": "edit"}
                answer = owner.call("POST", f"/api/tasks/{task_id}/share", json=body)
                assert answer.status_code == 201, answer.text
                viewers.append(other)
            shared[task_id] = viewers
    return shared


def _last_seq(user: Account) -> int:
    events = _read_all(user)
    return int(events[-1]["seq"]) if events else 0


def _read_all(user: Account, after: int = 0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = user.call("GET", f"/api/events?after={after}&limit=500")
        assert page.status_code == 200, page.text
        body = page.json()
        events += body["events"]
        after = body["next_after"]
        if not body["has_more"]:
            return events


def _follow(user: Account, stop: threading.Event, seen: dict[int, list[dict[str, Any]]]) -> None:
    """Read ``user``'s feed from where it stands, as a client would, until ``stop``; then
    once more, to the end. Any ``seq`` skipped meanwhile would be missing here."""
    events: list[dict[str, Any]] = []
    after = _last_seq(user)
    with requests.Session() as session:
        while True:
            last_round = stop.is_set()
            answer = session.get(
                f"{user.base}/api/events?after={after}&limit=50",
                headers=user.auth,
                timeout=HTTP_WAIT,
            )
            answer.raise_for_status()
            body = answer.json()
            events += body["events"]
            after = body["next_after"]
            if last_round and not body["has_more"]:
                break
    seen[user.id] = events


def _last_change(url: str) -> int:
    """The id of the last change in the log."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT max(id) FROM change")).scalar() or 0)
    finally:
        engine.dispose()


def _expected_recipients(
    url: str, shared: dict[int, list[Account]], after: int
) -> dict[int, set[int]]:
    """Each change of the run (logged after change ``after``), and who could see it
    when it was made: the writers only edited the shared tasks (seen by their owner
    and sharees) and created tasks of their own (seen by them alone)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT id, action, task_id, actor_id FROM change WHERE id > :after"),
                {"after": after},
            ).all()
    finally:
        engine.dispose()
    recipients: dict[int, set[int]] = defaultdict(set)
    for change_id, action, task_id, actor_id in rows:
        if action == "updated":
            recipients[change_id] = {user.id for user in shared[task_id]}
        else:
            assert action == "created", action
            recipients[change_id] = {actor_id}
    return recipients
