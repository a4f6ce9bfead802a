"""The per-process fan-out queue (src/doable/realtime/fanout.py): jobs run in the order
they were handed over, off the caller's thread; a failing one is logged and the rest
still run; the consumer stops when idle and the next job starts it again."""

from __future__ import annotations

import threading

import pytest
from flask import Flask

from doable.realtime import fanout as module
from doable.realtime.fanout import Fanout


def start_thread(function):
    threading.Thread(target=function, daemon=True).start()


@pytest.fixture
def queue(app: Flask) -> Fanout:
    return Fanout(app, start_thread)


def test_jobs_run_in_order_off_the_callers_thread(queue: Fanout) -> None:
    ran: list[tuple[int, bool]] = []
    main = threading.current_thread()
    for n in range(50):
        queue.put(lambda n=n: ran.append((n, threading.current_thread() is main)))

    assert queue.drain(5) == 0
    assert ran == [(n, False) for n in range(50)]


def test_a_failing_job_is_logged_and_the_next_still_runs(
    queue: Fanout, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []
    queue.put(lambda: ran.append("before"))
    queue.put(lambda: [][0])
    queue.put(lambda: ran.append("after"))

    assert queue.drain(5) == 0
    assert ran == ["before", "after"]
    assert "real-time event not sent" in caplog.text
    assert "IndexError" in caplog.text


def test_a_job_runs_in_an_app_context(queue: Fanout, app: Flask) -> None:
    from flask import current_app

    seen: list[object] = []
    queue.put(lambda: seen.append(current_app._get_current_object()))  # type: ignore[attr-defined]

    assert queue.drain(5) == 0
    assert seen == [app]


def test_an_idle_consumer_stops_and_the_next_job_starts_another(
    queue: Fanout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "IDLE", 0.01)
    consumers: list[threading.Thread] = []
    queue.put(lambda: consumers.append(threading.current_thread()))
    assert queue.drain(5) == 0
    consumers[0].join(5)
    assert not consumers[0].is_alive(), "the idle consumer kept running"

    queue.put(lambda: consumers.append(threading.current_thread()))

    assert queue.drain(5) == 0
    assert len(consumers) == 2
    assert consumers[1] is not consumers[0]


def test_drain_says_how_many_jobs_did_not_finish_in_time(queue: Fanout) -> None:
    release = threading.Event()
    queue.put(lambda: release.wait(5) and None)
    queue.put(lambda: None)

    assert queue.drain(0.05) == 2
    release.set()
    assert queue.drain(5) == 0
