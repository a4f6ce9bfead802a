"""The worker: the work that runs outside requests, in rounds, until it is stopped.

A round fans new changes out to the webhooks that follow them
(``webhooks.dispatch.fan_out``), then sends the deliveries that are due
(``webhooks.delivery.send_due``), fires the reminders and digests that are due
(``reminders.fire``) and sends their emails (``reminders.mail``). Between rounds the
worker waits until it is woken or the next delivery, reminder, digest or email falls
due, and at most ``DOABLE_WORKER_POLL_INTERVAL`` seconds:

- in its own process, a committed change (``signals.changes_committed``) or queued
  delivery (``signals.work_queued``) wakes it at once;
- in other processes, the same signals reach it through Redis when ``REDIS_URL`` is
  set (``doable.wakeups``); without Redis, or with Redis away, it polls.

Every piece of work is a row in the database, claimed there, so any number of workers
may run, in ``doable worker`` processes or inside ``doable serve --with-worker``, and
one killed loses nothing: what it held is taken over after its lease. A round that
fails (the database away) is logged and tried again after a growing pause; the loop
itself never dies of one.

Stopping (``stop``): the round in flight finishes, attempts being sent included, then
the loop returns. ``doable worker`` stops so on SIGTERM or SIGINT, and at once on a
second one.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask

from doable import signals, wakeups
from doable.reminders import fire, mail
from doable.settings import settings
from doable.webhooks.delivery import next_due_in, send_due
from doable.webhooks.dispatch import fan_out

log = logging.getLogger(__name__)

#: Seconds to wait after a failed round: doubling from the first to the last.
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
#: Reminders (and digests) fired in one round's transaction, at most; and fire records
#: pruned in one (``fire.prune_fires``).
REMINDERS_PER_ROUND = 200


class Worker:
    """The loop of one process (``run``), on ``app``; ``round`` alone for ``--once``."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.woken = threading.Event()
        self.stopped = threading.Event()
        #: Rounds failed in a row (0: the last one succeeded).
        self.failures = 0

    def wake(self, *_: Any, **__: Any) -> None:
        """Look for work now (a signal's listener, a message from Redis)."""
        self.woken.set()

    def stop(self) -> None:
        """Finish the round in flight, then return from ``run``."""
        self.stopped.set()
        self.woken.set()

    def run(self) -> None:
        """Rounds until ``stop``, woken by this process's signals and by Redis."""
        signals.changes_committed.connect(self.wake, sender=self.app, weak=False)
        signals.work_queued.connect(self.wake, sender=self.app, weak=False)
        listener = threading.Thread(
            target=wakeups.listen,
            args=(self.app, self.wake, self.stopped),
            name="doable-worker-wakeups",
            daemon=True,
        )
        listener.start()
        log.info("worker started", extra={"fields": {"event": "worker_started"}})
        try:
            while not self.stopped.is_set():
                self.woken.clear()  # before the round: a wake-up during it is kept
                self.woken.wait(self.round())
        finally:
            signals.changes_committed.disconnect(self.wake, sender=self.app)
            signals.work_queued.disconnect(self.wake, sender=self.app)
            self.stopped.set()
            log.info("worker stopped", extra={"fields": {"event": "worker_stopped"}})

    def round(self) -> float:
        """One round; the seconds to wait before the next (a failed one: the backoff)."""
        try:
            with self.app.app_context():  # its end releases the session, even a broken one
                pause = run_round(self.app)
        except Exception:
            self.failures += 1
            pause = min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** (self.failures - 1))
            log.exception(
                "worker round failed; trying again in %.1fs",
                pause,
                extra={"fields": {"event": "worker_round_failed", "retry_in": pause}},
            )
            return pause
        self.failures = 0
        return pause


def run_round(app: Flask) -> float:
    """Fan out, send what is due (webhook deliveries; reminders, digests and their
    emails: ``doable.reminders``), log what was done; the seconds until the next round
    is needed (0: more is due now), at most the poll interval. In an app context."""
    config = settings(app)
    started = time.perf_counter()
    queued = fan_out()
    sent = send_due(limit=config.worker_concurrency)
    fired = fire.fire_due(limit=REMINDERS_PER_ROUND) + fire.send_digests(limit=REMINDERS_PER_ROUND)
    emailed = mail.send_emails(limit=config.worker_concurrency)
    fire.prune_fires(limit=REMINDERS_PER_ROUND)
    waits = [due for due in (next_due_in(), fire.next_due_in()) if due is not None]
    due_in = min(waits) if waits else None
    if queued or sent or fired or emailed:
        fields = {
            "event": "worker_round",
            "queued": queued,
            "sent": sent,
            "fired": fired,
            "emailed": emailed,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        log.info("worker round: %d queued, %d sent", queued, sent, extra={"fields": fields})
    poll = config.worker_poll_interval
    return poll if due_in is None else max(0.0, min(poll, due_in))
