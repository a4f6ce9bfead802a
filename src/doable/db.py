"""Declarative base, naming convention and the column helpers every model shares."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Pool, Select, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session
from sqlalchemy.types import TypeDecorator

from doable.concurrency import run_blocking

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Ids are 32-bit signed integers on every backend; anything outside is "not found".
MAX_ID = 2**31 - 1


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


@dataclass(frozen=True, kw_only=True)
class Paged:
    """One page of a list: each list adds its items (``tasks``, ``categories``)."""

    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page)


def begin_write(
    session: Session | scoped_session[Any],
    lock: Select[Any],
    params: Mapping[str, Any] | None = None,
) -> None:
    """Start a read-modify-write that concurrent writers of the same data wait for,
    instead of both reading the same state and one of them failing at commit.

    SQLite: take the database's write lock now (``BEGIN IMMEDIATE``), before reading,
    rather than at the first write; a transaction that has already written holds it.
    PostgreSQL: lock the rows ``lock`` selects until commit; what the transaction reads
    after that sees the writes of whoever held them before. ``FOR NO KEY UPDATE``, not
    ``FOR UPDATE``: rows that only point at the locked one (an attachment inserted for a
    locked task, a login session for a locked user) do not wait for it, so those
    foreign-key checks cannot close a deadlock with a writer holding another lock.
    ``params``: values for the bound parameters of ``lock``, when it was built once.
    """
    if not lock_database(session):
        session.connection().execute(lock.with_for_update(key_share=True), params)


def lock_database(session: Session | scoped_session[Any]) -> bool:
    """SQLite: take the database's write lock now (``BEGIN IMMEDIATE``), unless the
    transaction holds it already, and answer True. PostgreSQL: nothing (False): lock
    the rows you need instead."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    driver = connection.connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    return True


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _same_as_created(context: Any) -> datetime:
    """A new row's ``updated_at`` is its ``created_at``, to the microsecond."""
    created = context.get_current_parameters().get("created_at")
    return created if created is not None else utcnow()


class TimestampMixin:
    """``created_at``/``updated_at`` set by the server, in UTC, on every write."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=_same_as_created, onupdate=utcnow, nullable=False
    )


#: How long a statement waits for another connection's hold on SQLite (as busy_timeout).
LOCK_WAIT = 15.0
#: Statements before which sqlite3 opens a transaction by itself: the first write.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class CooperativeCursor(sqlite3.Cursor):
    """A SQLite cursor for the event loop of ``doable serve``.

    Waiting for the write lock: SQLite's own busy handler sleeps in C, up to 100 ms at a
    time, and on the event loop that stops every other connection of the worker (the
    write p99 of two processes writing one file reached a second, bench/README.md). So
    these connections have no busy timeout: a write takes the lock itself
    (``BEGIN IMMEDIATE``, before its first statement), and a statement outside a
    transaction that finds the database busy is tried again after a short sleep, which
    gevent turns into a yield, for up to ``LOCK_WAIT`` seconds. Inside a write
    transaction nothing waits: the lock is held (WAL).

    Full-text searches (``MATCH``) go to gevent's thread pool (``run_blocking``): SQLite
    works in C with the GIL released, so a long query used to overlap with other
    requests on the second core under threads; on the event loop it stops the worker's
    every other connection instead, and text search alone fell to half the requests a
    second. It is the one long statement Doable runs; every other statement is short,
    and the hop to a thread and back would cost more than it saves. Only outside a
    write transaction: a request that has written never yields until it commits, so no
    other request of the worker waits for a lock it holds."""

    def execute(self, sql: str, parameters: Any = (), /) -> CooperativeCursor:
        if self.connection.in_transaction:
            return super().execute(sql, parameters)
        head = sql.lstrip()[:15].upper()
        if head.startswith(_WRITES) or head == "BEGIN IMMEDIATE":
            self._patiently(super().execute, "BEGIN IMMEDIATE", ())
            return self if head == "BEGIN IMMEDIATE" else super().execute(sql, parameters)
        if " MATCH " in sql:
            return self._patiently(run_blocking, super().execute, sql, parameters)
        return self._patiently(super().execute, sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> CooperativeCursor:
        if not self.connection.in_transaction:
            self._patiently(super().execute, "BEGIN IMMEDIATE", ())
        return super().executemany(sql, parameters)

    def _patiently(self, call: Any, *args: Any) -> CooperativeCursor:
        """``call(*args)``, again after short sleeps while SQLite answers "busy"."""
        deadline = time.monotonic() + LOCK_WAIT
        pause = 0.0005
        while True:
            try:
                call(*args)
                return self
            except sqlite3.OperationalError as error:
                busy = error.sqlite_errorcode == sqlite3.SQLITE_BUSY
                if not busy or self.connection.in_transaction or time.monotonic() >= deadline:
                    raise  # a statement that opened a transaction is not tried again
            time.sleep(pause)  # gevent yields: the worker's other requests go on
            pause = min(pause * 2, 0.01)


class CooperativeConnection(sqlite3.Connection):
    """Hands out ``CooperativeCursor``; ``doable serve`` opens SQLite with it (the
    connection is used by one request at a time, from the pool's threads in turn), with
    no busy timeout: its cursors wait for locks themselves."""

    def cursor(self, factory: Any = CooperativeCursor) -> Any:
        return super().cursor(factory)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: enforce foreign keys, and let several processes share the file."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # SQLite's lower() folds ASCII only; Doable compares names and emails ignoring case
    # with lower() in SQL on both sides, so give it Unicode case folding (deterministic,
    # as the expression indexes on lower(...) require).
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    wait = 0 if isinstance(dbapi_connection, CooperativeConnection) else int(LOCK_WAIT * 1000)
    cursor.execute(f"PRAGMA busy_timeout={wait}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: Seconds a pooled connection may sit unused before it is tested on its way out.
IDLE_BEFORE_PING = 1.0


@event.listens_for(Pool, "checkin")
def _idle_since(dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_after_idling(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Test a server connection (PostgreSQL) that sat unused for ``IDLE_BEFORE_PING``
    before a request gets it; a dead one invalidates every connection made before it
    (``InvalidatePoolError``), and the pool takes a new one.

    After a database restart every pooled connection is dead, and they have all been
    idle since it went down, or one of them failing has invalidated the rest: either
    way none reaches a request. A connection handed from request to request under load
    is not tested: that round trip per request was SQLAlchemy's ``pool_pre_ping``."""
    idle_since = record.info.get("idle_since")
    if isinstance(dbapi_connection, sqlite3.Connection) or idle_since is None:
        return  # a file never drops; a new connection was just made
    if time.monotonic() - idle_since < IDLE_BEFORE_PING:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:
        raise InvalidatePoolError("pooled connection is dead") from error
