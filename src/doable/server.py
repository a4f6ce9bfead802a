"""The production server: gunicorn with one gevent worker class of our own.

Every connection is a greenlet, so an open socket costs memory, not a thread: a worker
holds up to ``--worker-connections`` of them, pages, API calls and sockets together.
What a connection may hold is bounded here, where it is read:

- its request line and headers must arrive within ``DOABLE_REQUEST_HEADER_TIMEOUT``
  seconds, counted from when the connection was accepted or its previous response
  ended (so trickling them does not help, and an idle keep-alive connection is closed
  after as long);
- its body must keep up ``DOABLE_REQUEST_BODY_MIN_RATE`` bytes a second after a grace of
  ``DOABLE_REQUEST_BODY_TIMEOUT`` seconds, else the request is answered 408 and the
  connection closed (``DeadlineInput``).

CPU-bound work (argon2) runs in gevent's thread pool (``doable.concurrency``) so it
does not stall every other connection of the worker.
"""

from __future__ import annotations

import contextlib
import gc
import resource
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker
from werkzeug.exceptions import RequestTimeout

from doable.settings import settings


class BodyTooSlow(RequestTimeout):
    description = "The request body arrived too slowly; send it at a steady rate and try again."


class DeadlineInput:
    """``wsgi.input`` with a deadline that grows with what has arrived: ``grace``
    seconds, plus one second per ``min_rate`` bytes received. A read past it raises
    ``BodyTooSlow`` (408), however the bytes trickle in."""

    def __init__(self, stream: Any, grace: float, min_rate: int, on_expired: Callable[[], None]):
        self._stream = stream
        self._start = time.monotonic()
        self._grace = grace
        self._min_rate = min_rate
        self._received = 0
        self._on_expired = on_expired

    def _within_deadline(self, read: Callable[[], bytes]) -> bytes:
        remaining = self._start + self._grace + self._received / self._min_rate
        remaining -= time.monotonic()
        try:
            if remaining <= 0:
                raise BodyTooSlow()
            with gevent.Timeout(remaining, BodyTooSlow()):
                data = read()
        except BodyTooSlow:
            self._on_expired()
            raise
        self._received += len(data)
        return data

    def read(self, size: int | None = None) -> bytes:
        return self._within_deadline(lambda: self._stream.read(size))

    def readline(self, size: int | None = None) -> bytes:
        return self._within_deadline(lambda: self._stream.readline(size))

    def readlines(self, hint: int | None = None) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class Worker(GeventWorker):
    """Gunicorn's gevent worker, plus Doable's read deadlines (module docstring), and on
    SIGTERM it closes its open sockets, so clients reconnect elsewhere at once instead of
    holding the worker until the graceful timeout. Requests in flight still finish."""

    def load_wsgi(self) -> None:
        super().load_wsgi()
        tune_garbage_collector()
        bounds = settings(self.wsgi)
        self.header_timeout = float(bounds.request_header_timeout)
        self.body_grace = float(bounds.request_body_timeout)
        self.body_min_rate = bounds.request_body_min_rate

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        """The request's body read under its deadline; one that came too slowly is
        answered 408 (by the app) with ``Connection: close``, so the rest of it is never
        read. Then the worker's other connections get their turn."""
        body = req.body
        req.body = DeadlineInput(
            body, self.body_grace, self.body_min_rate, lambda: setattr(req, "must_close", True)
        )
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            # What the app left unread is drained under the header deadline instead.
            req.body = body
            # Let every other ready connection have a turn before this one reads its
            # next request. Without it a saturated worker served some keep-alive
            # connections again and again while others waited over a second (wrk, 16
            # connections: p99 1.4 s; with it 5 ms, and more requests a second).
            gevent.sleep(0)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """A body too slow for a route outside Flask (Socket.IO's long-polling POSTs):
        408, not gunicorn's 500 and a traceback in the log."""
        if isinstance(exc, BodyTooSlow):
            with contextlib.suppress(OSError):
                util.write_error(client, 408, "Request Timeout", exc.description or "")
            return
        super().handle_error(req, client, addr, exc)

    def timeout_ctx(self) -> gevent.Timeout:
        # Gunicorn reads each request line and its headers (and waits for the next
        # request of a keep-alive connection) inside this; on expiry it closes quietly.
        return gevent.Timeout(self.header_timeout, False)

    def run(self) -> None:
        super().run()  # returns once the requests in flight have finished
        from doable.realtime.fanout import drain_at_exit

        drain_at_exit(self.wsgi)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        from doable.realtime.sockets import close_local_sockets

        gevent.spawn(close_local_sockets, self.wsgi)


class WorkerWithJobs(Worker):
    """``doable serve --with-worker``: a gunicorn worker that also runs Doable's worker
    loop (``doable.worker``) in a greenlet of its own, so one command serves and
    delivers. Several such processes are fine: work is claimed in the database. On
    SIGTERM the loop finishes its round (attempts in flight) while requests finish."""

    def load_wsgi(self) -> None:
        super().load_wsgi()
        from doable.worker import Worker as JobWorker

        self.jobs = JobWorker(self.wsgi)
        self.jobs_loop = gevent.spawn(self.jobs.run)

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.jobs.stop()
        super().handle_exit(sig, frame)

    def run(self) -> None:
        super().run()
        self.jobs.stop()  # the server stopped for another reason (its parent went)
        self.jobs_loop.join(timeout=self.cfg.graceful_timeout)


def tune_garbage_collector() -> None:
    """Keep full collections rare and short with thousands of sockets open.

    A full collection walks every tracked object and stops the whole worker meanwhile:
    at 5,000 sockets a process (about a million objects) that was 0.5-1.25 s, measured
    by bench/sockets.py. Two things shrink it: what exists once the app is loaded
    (modules, the app, its config) lives as long as the process, so it is frozen out of
    every collection; and a larger youngest generation lets short-lived objects (one
    request's, one ping's) die before they are promoted, so the oldest generation, whose
    growth triggers full collections, grows slowly."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(50_000, middle, oldest)


def raise_open_files_limit() -> int:
    """Lift this process's soft limit on open files to the hard one: each socket is a
    file. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
