"""Sending events off the request path: one queue and one consumer per process.

The notifier's signal listeners run in the request that committed the change, so they
only hand it over (``Fanout.put``): no database reads, no serialisation, nothing per
recipient. A background task of the process (a greenlet under ``doable serve``, a
thread in tests and ``flask run``) takes the jobs one at a time, in the order they were
handed over, each in an app context of its own (its own database session): who hears of
the change, who of them holds a socket, the reads, the emits. One consumer per process
keeps each user's events in the order their ids were taken.

The consumer runs while there is work, and stops after ``IDLE`` seconds without any;
the next job starts it again. A job that fails is logged and the next one runs: the
consumer never dies of one. On shutdown, ``drain`` waits for what is queued (the
server gives it a deadline, and logs what it had to drop).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

#: Seconds the consumer waits for more work before it stops.
IDLE = 5.0
#: Seconds a stopping worker waits for the changes it has queued (``drain_at_exit``).
DRAIN_TIMEOUT = 5.0

Job = Callable[[], None]


class Fanout:
    def __init__(self, app: Flask, start: Callable[[Callable[[], None]], Any]) -> None:
        """``start(function)`` runs ``function`` in the background
        (``SocketIO.start_background_task``)."""
        self.app = app
        self._start = start
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._pending = 0  # handed over, not finished
        self._running = False

    def put(self, job: Job) -> None:
        """Run ``job`` in the background, after every job handed over before it."""
        with self._lock:
            self._jobs.put(job)
            self._pending += 1
            start, self._running = not self._running, True
        if start:
            try:
                self._start(self._consume)
            except BaseException:  # no consumer: the next job tries to start one again
                with self._lock:
                    self._running = False
                raise

    def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every job handed over to finish; how many
        had not."""
        with self._done:
            self._done.wait_for(lambda: self._pending == 0, timeout)
            return self._pending

    def _consume(self) -> None:
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=IDLE)
                except queue.Empty:
                    with self._lock:
                        if self._jobs.empty():  # a job put now starts a new consumer
                            self._running = False
                            return
                    continue
                self._run(job)
        except BaseException:  # killed (shutdown): the next job starts a new consumer
            with self._lock:
                self._running = False
            raise

    def _run(self, job: Job) -> None:
        try:
            with self.app.app_context():
                job()
        except Exception:
            log.exception("real-time event not sent")
        finally:
            with self._done:
                self._pending -= 1
                self._done.notify_all()


def fanout(app: Flask) -> Fanout:
    found: Fanout = app.extensions["doable.realtime.fanout"]
    return found


def drain_at_exit(app: Flask) -> None:
    """A stopping worker's last step: send what it queued (other processes' sockets
    still wait for it), or say how much it could not."""
    left = fanout(app).drain(DRAIN_TIMEOUT)
    if left:
        log.warning("stopped with %d real-time change(s) not sent", left)
