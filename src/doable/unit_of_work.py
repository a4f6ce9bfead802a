"""One use case, one transaction: the only place Doable commits.

A public service function that writes is a unit of work::

    @use_case(retry=3)
    def update_thing(*, user: User, thing_id: int, changes: dict[str, Any]) -> Thing:
        thing = ...                              # read, check, write; helpers only flush
        on_conflict(Conflict("...", problem_type=ProblemType.THING_TAKEN))
        publish(signals.thing_updated, thing_id=thing_id)
        return thing

Leaving the body, the unit of work commits once. If the body or the commit raises
anything, everything is rolled back (row locks and SQLite's write lock go with it)
before the error reaches the caller (an API route, a page that shows its form again,
the socket tier), and what the body published is dropped.

A write the database refuses becomes a domain error: ``IntegrityError`` (a unique
index: a concurrent request took the same name first) raises the error the body named
with ``on_conflict``, else a plain ``Conflict``; ``StaleDataError`` (the row changed or
went meanwhile) raises the ``on_conflict`` error, else goes on as it is (a bug). With
``retry=N`` the body runs again, N times in all, in a fresh transaction after either
refusal, before giving up (``on_conflict(..., retry=False)``: give up at once).

``publish(signal, **payload)`` queues a signal. It is delivered after the commit, in
the order published, by ``signals.send``: a failing listener is logged and the commit
stands. Listeners (the real-time notifier, file removal) run outside the transaction
and never undo it.

``unit_of_work()`` is the same thing as a context manager, for a step that commits by
itself (no retry): a login attempt counted before its password is checked. Units of
work do not nest into one: an inner one commits what was done so far, and delivers it.

``stage(writer, item)`` is the outbox: ``item`` waits in the session until the unit of
work is about to commit, and ``writer(items)`` then writes everything staged for it, in
the same transaction, last thing before the commit (the change feed: ``doable.changes``).
The change and what records it commit together or not at all; a rolled-back attempt
drops what it staged, and a retried one stages again.

``claim(item)`` is the request's one write that must ride with its change (an
``Idempotency-Key``: ``doable.changes.idempotency``). Unlike a staged item it outlives a
rolled-back attempt: ``item.write()`` runs in each attempt of the session's units of
work that has staged something (a recorded change), first thing before the staged
writers, until one of them commits; then ``item.committed`` is set and it is forgotten.
A unit of work that changed nothing (a check that only ends its transaction, a login
attempt counted) never carries it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn, ParamSpec, Protocol, TypeVar, overload

from blinker import NamedSignal
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from doable import signals
from doable.errors import Conflict, DoableError
from doable.extensions import db

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

#: Keys in ``Session.info``: signals published in the open transaction, items staged
#: for writers (``stage``), signals committed but not yet delivered, and the running
#: units of work (innermost last).
_PUBLISHED = "doable.published"
_STAGED = "doable.staged"
_COMMITTED = "doable.committed"
_RUNNING = "doable.units_of_work"
#: The write that rides with the session's next change (``claim``); kept across attempts.
_CLAIM = "doable.claim"

#: What the database refusing a write raises when the use case named nothing else.
CONFLICT = "The request conflicts with data that already exists"
_REFUSED = (IntegrityError, StaleDataError)


def publish(signal: NamedSignal, **payload: Any) -> None:
    """Deliver ``signal`` with ``payload`` once the current unit of work commits."""
    session = db.session()
    if not session.info.get(_RUNNING):
        raise RuntimeError("publish() outside a unit of work: nothing would deliver it")
    published = session.info.setdefault(_PUBLISHED, [])
    if not payload and (signal, payload) in published:
        return  # a bare wake-up (``work_queued``): once per commit says it all
    published.append((signal, payload))


def stage(writer: Callable[[list[Any]], None], item: Any) -> None:
    """Have ``writer`` write ``item`` (with everything else staged for it, in order)
    in the current unit of work's transaction, just before it commits."""
    session = db.session()
    if not session.info.get(_RUNNING):
        raise RuntimeError("stage() outside a unit of work: nothing would write it")
    session.info.setdefault(_STAGED, {}).setdefault(writer, []).append(item)


class Claim(Protocol):
    """What ``claim`` takes: ``write`` (may raise to refuse the change) and a flag the
    unit of work sets once the write has committed."""

    committed: bool

    def write(self) -> None: ...


def claim(item: Claim) -> None:
    """Have ``item.write()`` run in the transaction of the next change this session
    commits, however many attempts that takes (``doable.changes.idempotency``)."""
    db.session().info[_CLAIM] = item


def on_conflict(error: DoableError, *, retry: bool = True) -> None:
    """What the database refusing this unit of work's write means: ``error`` is raised
    (after the retries, or at once with ``retry=False``)."""
    running = db.session().info.get(_RUNNING)
    if not running:
        raise RuntimeError("on_conflict() outside a unit of work")
    running[-1].conflict, running[-1].retry = error, retry


@dataclass
class _Work:
    session: Session
    conflict: DoableError | None = None
    retry: bool = True

    def commit(self) -> None:
        staged = self.session.info.pop(_STAGED, {})
        claimed = self.session.info.get(_CLAIM) if staged else None
        if claimed is not None:
            claimed.write()  # before the writers' locks: a refusal waits for none of them
        for writer, items in staged.items():
            writer(items)  # may publish: delivered after this commit
        self.session.commit()
        if claimed is not None:
            del self.session.info[_CLAIM]
            claimed.committed = True

    def refusal(self, error: BaseException) -> BaseException:
        """The error to raise for ``error``, which rolled the work back."""
        if isinstance(error, _REFUSED) and self.conflict is not None:
            return self.conflict
        if isinstance(error, IntegrityError):
            return Conflict(CONFLICT)
        return error


@contextmanager
def _attempt() -> Iterator[_Work]:
    """One transaction: commit after the body, roll back on any error (re-raised as is)."""
    session = db.session()
    work = _Work(session)
    running = session.info.setdefault(_RUNNING, [])
    running.append(work)
    try:
        yield work
        work.commit()
    except BaseException:
        _roll_back(session)
        raise
    finally:
        running.remove(work)


def _roll_back(session: Session) -> None:
    """Undo the attempt and drop what it published. A rollback that fails (the
    connection died) must not hide the error that brought us here."""
    session.info.pop(_PUBLISHED, None)
    session.info.pop(_STAGED, None)
    try:
        session.rollback()
    except Exception:
        log.debug("rollback failed after an error", exc_info=True)


def _raise_refusal(work: _Work, error: BaseException) -> NoReturn:
    refusal = work.refusal(error)
    if refusal is error:
        raise error
    raise refusal from error


def _deliver() -> None:
    """Send what committed; a listener's failure is logged by ``signals.send``."""
    for signal, payload in db.session().info.pop(_COMMITTED, []):
        signals.send(signal, **payload)


@contextmanager
def unit_of_work() -> Iterator[None]:
    """The body's writes, committed once, then its published signals delivered."""
    try:
        with _attempt() as work:
            yield
    except _REFUSED as error:
        _raise_refusal(work, error)
    _deliver()


@overload
def use_case(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def use_case(*, retry: int = 1) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def use_case(func: Any = None, /, *, retry: int = 1) -> Any:
    """A public service function as one unit of work; ``retry``: attempts in all when
    the database refuses the write (the body runs again from the start)."""

    def decorate(body: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(body)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            for attempt in range(1, retry + 1):
                try:
                    with _attempt() as work:
                        result = body(*args, **kwargs)
                except _REFUSED as error:
                    if attempt < retry and work.retry:
                        continue
                    _raise_refusal(work, error)
                _deliver()
                return result
            raise AssertionError("unreachable: the last attempt returns or raises")

        return run

    return decorate(func) if func is not None else decorate


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.setdefault(_COMMITTED, []).extend(session.info.pop(_PUBLISHED, []))


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PUBLISHED, None)
    session.info.pop(_STAGED, None)
