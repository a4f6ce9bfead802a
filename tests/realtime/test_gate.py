"""The CONNECT deadline's sweeper runs only while a session waits: a process, or one of
the suite's many in-process apps, that holds no waiting socket holds no background task."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from doable import create_app
from doable.realtime.sockets import gate, server
from tests.conftest import base_config


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_the_sweeper_closes_a_late_session_then_stops(tmp_path: Path) -> None:
    app = create_app(
        base_config(f"sqlite:///{tmp_path / 'gate.db'}", tmp_path, REALTIME_CONNECT_TIMEOUT=1)
    )
    the_gate = gate(app)
    before = set(threading.enumerate())
    # Engine.IO's connect handler, as a handshake calls it: the gate wraps it.
    server(app).eio.handlers["connect"]("late", {"REMOTE_ADDR": "192.0.2.7"})
    sweepers = set(threading.enumerate()) - before
    assert len(sweepers) == 1
    assert the_gate.pending.keys() == {"late"}

    assert _wait_until(lambda: not the_gate.pending), "the late session was not expired"
    (sweeper,) = sweepers
    sweeper.join(timeout=5)
    assert not sweeper.is_alive(), "the sweeper kept running with nothing to sweep"

    # The next waiting session starts it again.
    server(app).eio.handlers["connect"]("next", {"REMOTE_ADDR": "192.0.2.7"})
    assert _wait_until(lambda: not the_gate.pending), "a second sweeper never started"
