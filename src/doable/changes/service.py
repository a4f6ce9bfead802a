"""Reading the change feed (docs/api.md, Change feed): a user's changes after a
position, and where their feed stands. Writing it is ``doable.changes.log``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, bindparam, delete, exists, func, or_, select

from doable.auth.models import User
from doable.categories.schemas import CategoryRead
from doable.categories.service import read_categories
from doable.changes.models import MAX_SEQ, Change, FeedCursor, FeedEntry, IdempotentRequest
from doable.db import MAX_ID, Paged, utcnow
from doable.errors import Gone, ProblemType
from doable.extensions import db
from doable.schemas import timestamp
from doable.settings import settings
from doable.tasks.access import (
    TASK_ROWS,
    VIEWER,
    Access,
    get_task_row_for,
    task_or_guard,
    viewer,
    visible_branches,
)
from doable.tasks.models import Task
from doable.tasks.schemas import task_row_data
from doable.unit_of_work import use_case

#: The most changes one ``GET /api/events`` returns.
MAX_EVENTS = 500


@dataclass(frozen=True)
class FeedPage:
    """Changes of a feed after a position, in order: ``next_after`` is the position to
    ask from next (the last one's ``seq``); ``has_more``: there are more already."""

    events: list[dict[str, Any]]
    next_after: int
    has_more: bool


#: A user's feed entries after ``after``, with their changes and who made them; built once.
_EVENTS = (
    select(
        FeedEntry.seq,
        FeedEntry.data,
        Change.id,
        Change.at,
        Change.actor_id,
        User.username,
        Change.entity,
        Change.entity_id,
        Change.task_id,
        Change.action,
        Change.version,
        Change.changes,
    )
    .join(Change, Change.id == FeedEntry.change_id)
    .outerjoin(User, User.id == Change.actor_id)
    .where(
        FeedEntry.user_id == bindparam("user_id", type_=Integer),
        FeedEntry.seq > bindparam("after"),
    )
    .order_by(FeedEntry.seq)
    .limit(bindparam("limit", type_=Integer))
)
_OLDEST = select(func.min(FeedEntry.seq)).where(
    FeedEntry.user_id == bindparam("user_id", type_=Integer)
)
_LAST = select(FeedCursor.last_seq).where(FeedCursor.user_id == bindparam("user_id", type_=Integer))


def read_feed(*, user: User, after: int = 0, limit: int = 100) -> FeedPage:
    """The changes of ``user``'s feed after ``after``, at most ``limit``.

    Gone (410, with ``oldest_seq``) when some of them were pruned, or ``after`` is
    beyond the feed (a client that kept a position across a restored database): the
    client then reads everything again."""
    events = feed_events(user_id=user.id, after=after, limit=limit + 1)
    if not events or events[0]["seq"] != after + 1:
        _check_held(user.id, after)
    page = events[:limit]
    next_after = page[-1]["seq"] if page else after
    return FeedPage(events=page, next_after=next_after, has_more=len(events) > limit)


def feed_events(*, user_id: int, after: int, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` changes of the feed of ``user_id`` after ``after``, as
    ``event_data`` shows them, as far as they are held: no check for pruned ones (the
    API's ``read_feed`` and the webhooks' fan-out each decide what a gap means)."""
    params = {"user_id": user_id, "after": after, "limit": limit}
    return [event_data(row) for row in db.session.connection().execute(_EVENTS, params)]


def feed_position(user_id: int) -> int:
    """The ``seq`` of the user's latest change (0 before the first)."""
    last = db.session.connection().execute(_LAST, {"user_id": user_id}).scalar()
    return int(last or 0)


def _check_held(user_id: int, after: int) -> None:
    """Raise Gone unless every change of the feed after ``after`` is still held."""
    connection = db.session.connection()
    last = feed_position(user_id)
    oldest = connection.execute(_OLDEST, {"user_id": user_id}).scalar()
    oldest = last + 1 if oldest is None else int(oldest)
    if after > last:
        detail = f"Position {after} is beyond your feed, which ends at {last}; reload"
    elif after + 1 < oldest:
        detail = f"Changes after {after} were pruned; the oldest held is {oldest}; reload"
    else:
        return
    raise Gone(
        detail, problem_type=ProblemType.FEED_POSITION_GONE, oldest_seq=oldest, last_seq=last
    )


def event_data(row: Any) -> dict[str, Any]:
    """A feed entry as the API shows it (``EventRead``)."""
    return {"seq": row.seq, **history_entry(row), **(row.data or {})}


@use_case
def prune(*, now: datetime | None = None) -> tuple[int, int]:
    """Remove changes older than ``DOABLE_CHANGE_RETENTION_DAYS`` (with their feed
    entries) and responses kept for idempotency keys older than
    ``DOABLE_IDEMPOTENCY_KEY_TTL_HOURS``; return how many of each (``doable changes
    prune``).

    Changes go by id, everything before the oldest one kept: each feed loses a run of
    its oldest entries and never one in the middle, so a reader after a pruned position
    is told so (``read_feed``: 410) rather than skipping a hole."""
    now = now or utcnow()
    config = settings()
    cut = now - timedelta(days=config.change_retention_days)
    first_kept = db.session.scalar(select(func.min(Change.id)).where(Change.at >= cut))
    if first_kept is None:
        first_kept = (db.session.scalar(select(func.max(Change.id))) or 0) + 1
    connection = db.session.connection()
    connection.execute(delete(FeedEntry).where(FeedEntry.change_id < first_kept))
    changes = connection.execute(delete(Change).where(Change.id < first_kept)).rowcount
    expired = now - timedelta(hours=config.idempotency_key_ttl_hours)
    keys = connection.execute(
        delete(IdempotentRequest).where(IdempotentRequest.created_at < expired)
    ).rowcount
    return int(changes or 0), int(keys or 0)


# --- sync: what changed since a position, collapsed --------------------------------------

#: The most tasks (current ones and tombstones together) one ``GET /api/sync`` answers.
MAX_SYNC = 1000


@dataclass(frozen=True)
class SyncCursor:
    """Where a sync that takes several answers goes on from: the changes of the feed in
    ``(since, upto]`` (``since`` ``None``: everything visible, as of ``upto``), for
    tasks with ids above ``after_id``. Written as ``since.upto.after_id`` (``all`` for
    no ``since``), which clients treat as opaque."""

    since: int | None
    upto: int
    after_id: int = 0

    def __str__(self) -> str:
        since = "all" if self.since is None else str(self.since)
        return f"{since}.{self.upto}.{self.after_id}"

    @classmethod
    def parse(cls, text: str) -> SyncCursor:
        """The cursor ``str`` wrote (``ValueError`` for anything else)."""
        since, upto, after_id = text.split(".")
        cursor = cls(None if since == "all" else int(since), int(upto), int(after_id))
        if cursor.since is not None and not 0 <= cursor.since <= cursor.upto:
            raise ValueError(text)
        # Only positions and task ids the database can hold: anything else was not ours.
        if not (0 <= cursor.upto <= MAX_SEQ and 0 <= cursor.after_id <= MAX_ID):
            raise ValueError(text)
        return cursor


@dataclass(frozen=True)
class SyncDelta:
    """What a client keeping a copy applies to it (``GET /api/sync``): ``tasks`` and
    ``categories`` to put in (as the API shows them to this user now), ``deleted`` and
    ``deleted_categories`` to take out; once ``has_more`` is false, ``next_since`` is
    the position to ask from next (until then, go on with ``cursor``)."""

    tasks: list[dict[str, Any]]
    deleted: list[int]
    categories: list[dict[str, Any]]
    deleted_categories: list[int]
    next_since: int
    has_more: bool
    cursor: str | None


_IN_FEED = (
    FeedEntry.user_id == bindparam("user_id", type_=Integer),
    FeedEntry.seq > bindparam("since"),
    FeedEntry.seq <= bindparam("upto"),
)
#: The tasks changed in a window of the feed, by id, after ``after_id``; built once.
_CHANGED_TASKS = (
    select(Change.task_id)
    .join(FeedEntry, FeedEntry.change_id == Change.id)
    .where(*_IN_FEED, Change.entity == "task", Change.task_id > bindparam("after_id"))
    .group_by(Change.task_id)
    .order_by(Change.task_id)
    .limit(bindparam("limit", type_=Integer))
)
#: The categories changed in a window of the feed.
_CHANGED_CATEGORIES = (
    select(Change.entity_id)
    .join(FeedEntry, FeedEntry.change_id == Change.id)
    .where(*_IN_FEED, Change.entity == "category")
    .distinct()
)
#: The categories of tasks (old and new) in a window of the feed: tagging and untagging
#: change a category's ``task_count``, and only its tasks' changes say so.
_RETAGGED = (
    select(Change.changes["categories"])
    .join(FeedEntry, FeedEntry.change_id == Change.id)
    .where(*_IN_FEED, Change.entity == "task", Change.action.in_(["created", "updated", "deleted"]))
)
#: The tasks a viewer sees, by id, after ``after_id``; and some tasks as they see them.
#: (The two visibility branches read apart and merged, as a list page reads them, took
#: two to three times as long: 38 to 74 ms against 22 to 35 for 1,000 of 20,000 tasks
#: among 70,000, on PostgreSQL.)
_VISIBLE_TASKS = (
    TASK_ROWS.where(
        or_(*(branch.condition for branch in visible_branches())),
        Task.id > bindparam("after_id"),
    )
    .order_by(Task.id)
    .limit(bindparam("limit", type_=Integer))
)
_TASKS_BY_ID = TASK_ROWS.where(Task.id.in_(bindparam("task_ids", expanding=True)))


def sync(
    *, user: User, since: int | None = None, limit: int = 500, cursor: SyncCursor | None = None
) -> SyncDelta:
    """What changed for ``user`` since ``since``, collapsed: each task changed, once, as
    it is now (or its id, if it went or they can no longer see it), and their
    categories changed (or whose task counts may have). Without ``since``: everything
    they see. At most ``limit`` tasks and ids an answer; ``cursor`` goes on.

    The feed's position is read first, then the data. Every statement sees at least
    what had committed when the position was read (a user's ``seq`` commits only after
    every smaller one did, ``doable.changes.log``), and whatever commits after it has a
    ``seq`` beyond ``next_since``: it may be in this answer, and is sent again by the
    next, never missed. Read the other way round, a change committed between the two
    reads would be counted in ``next_since`` and missing from the data. Gone (410) as
    ``read_feed`` when ``since`` is no longer held: the client reads everything again."""
    if cursor is None:
        cursor = SyncCursor(since, feed_position(user.id))
    else:
        _check_held(user.id, cursor.upto)  # a position this feed has had
    if cursor.since is not None:
        _check_held(user.id, cursor.since)
    if cursor.since is None:
        tasks, deleted, last_id = _visible_tasks(user, cursor, limit)
    else:
        tasks, deleted, last_id = _changed_tasks(user, cursor, limit)
    categories: list[dict[str, Any]] = []
    deleted_categories: list[int] = []
    if cursor.after_id == 0:  # the first answer carries the categories (a user has few)
        categories, deleted_categories = _changed_categories(user, cursor)
    more = None if last_id is None else str(SyncCursor(cursor.since, cursor.upto, last_id))
    return SyncDelta(
        tasks=[task_row_data(row) for row in tasks],
        deleted=deleted,
        categories=categories,
        deleted_categories=deleted_categories,
        next_since=cursor.upto,
        has_more=more is not None,
        cursor=more,
    )


def _visible_tasks(
    user: User, cursor: SyncCursor, limit: int
) -> tuple[list[Any], list[int], int | None]:
    """The next ``limit`` tasks ``user`` sees, by id; the last id if there are more."""
    params = {**viewer(user), "after_id": cursor.after_id, "limit": limit + 1}
    rows = list(db.session.connection().execute(_VISIBLE_TASKS, params))
    return rows[:limit], [], rows[limit - 1].id if len(rows) > limit else None


def _changed_tasks(
    user: User, cursor: SyncCursor, limit: int
) -> tuple[list[Any], list[int], int | None]:
    """The next ``limit`` tasks changed in the window, by id: as ``user`` sees them
    now, or their ids when they went or ``user`` can no longer see them."""
    connection = db.session.connection()
    window = {"user_id": user.id, "since": cursor.since, "upto": cursor.upto}
    params = {**window, "after_id": cursor.after_id, "limit": limit + 1}
    ids = [task_id for task_id in connection.execute(_CHANGED_TASKS, params).scalars() if task_id]
    page = ids[:limit]
    rows = _tasks_seen_by(user, page)
    seen = {row.id for row in rows}
    deleted = [task_id for task_id in page if task_id not in seen]
    return rows, deleted, page[-1] if len(ids) > limit else None


def tasks_seen_by(*, user: User, task_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The tasks of ``task_ids`` that ``user`` can see now, by id, as the API shows
    them to them (``TaskRead``), read in one statement; the others are left out."""
    return {row.id: task_row_data(row) for row in _tasks_seen_by(user, sorted(set(task_ids)))}


def _tasks_seen_by(user: User, task_ids: list[int]) -> list[Any]:
    """The rows of the tasks of ``task_ids`` that ``user`` can see, by id."""
    if not task_ids:
        return []
    params = {**viewer(user), "task_ids": task_ids}
    read = db.session.connection().execute(_TASKS_BY_ID, params)
    return sorted((row for row in read if row.access is not None), key=lambda row: row.id)


def _changed_categories(user: User, cursor: SyncCursor) -> tuple[list[dict[str, Any]], list[int]]:
    """``user``'s categories as they are now: every one (no ``since``), or those
    changed in the window and those a task in it was tagged or untagged with (their
    counts changed); and the ids of those changed that went."""
    shown = CategoryRead()
    if cursor.since is None:
        return [shown.dump(category) for category in read_categories(user=user)], []
    connection = db.session.connection()
    window = {"user_id": user.id, "since": cursor.since, "upto": cursor.upto}
    ids = set(connection.execute(_CHANGED_CATEGORIES, window).scalars())
    names = {
        name
        for change in connection.execute(_RETAGGED, window).scalars()
        for side in change or []
        for name in side or []
    }
    if not ids and not names:
        return [], []
    categories = read_categories(user=user, ids=sorted(ids), names=sorted(names))
    kept = {category.id for category in categories}
    return [shown.dump(category) for category in categories], sorted(ids - kept)


# --- a task's history -------------------------------------------------------------------

#: Changes to a task's shares: shown to its owner and the sharee concerned, who alone had
#: them in their feeds (shares are the owner's business elsewhere in the API).
SHARE_ACTIONS = ("shared", "share_updated", "unshared")


@dataclass(frozen=True, kw_only=True)
class HistoryPage(Paged):
    """A page of a task's changes, newest first (``history_entry`` each)."""

    changes: list[dict[str, Any]]


_SHOWN_IN_HISTORY = (
    Change.task_id == bindparam("task_id", type_=Integer),
    or_(
        Change.action.not_in(SHARE_ACTIONS),
        exists().where(FeedEntry.change_id == Change.id, FeedEntry.user_id == VIEWER),
    ),
)
_HISTORY = (
    select(*Change.__table__.columns, User.username)
    .outerjoin(User, User.id == Change.actor_id)
    .where(*_SHOWN_IN_HISTORY)
    .order_by(Change.id.desc())
    .limit(bindparam("limit", type_=Integer))
    .offset(bindparam("offset", type_=Integer))
)
_HISTORY_COUNT = select(func.count()).select_from(Change).where(*_SHOWN_IN_HISTORY)


def task_history(
    *, user: User, task_id: int, page: int = 1, per_page: int = 10, task: Task | None = None
) -> HistoryPage:
    """The changes to a task ``user`` can view now (404 or 403 by the one access rule),
    newest first, a page at a time, as far back as they are kept. A page that has read
    ``task`` as ``user`` passes it, and the access check is not run again."""
    if task is None:
        found = get_task_row_for(user=user, task_id=task_id, need=Access.VIEW)
    else:
        found = task_or_guard(user=user, task=task, need=Access.VIEW)
    connection = db.session.connection()
    params = {"task_id": found.id, **viewer(user)}
    total = connection.execute(_HISTORY_COUNT, params).scalar_one()
    rows: list[Any] = []
    if (page - 1) * per_page < total:
        window = {"limit": per_page, "offset": (page - 1) * per_page}
        rows = list(connection.execute(_HISTORY, {**params, **window}))
    return HistoryPage(
        changes=[history_entry(row) for row in rows], total=total, page=page, per_page=per_page
    )


def history_entry(row: Any) -> dict[str, Any]:
    """A change as the API shows it, in a task's history (``HistoryEntryRead``) and, with
    its place, in a feed (``event_data``); ``actor`` is null once the account that made
    the change is deleted (the log outlives it)."""
    actor = None if row.username is None else {"id": row.actor_id, "username": row.username}
    return {
        "change_id": row.id,
        "at": timestamp(row.at),
        "actor": actor,
        "entity": {"type": row.entity, "id": row.entity_id},
        "task_id": row.task_id,
        "action": row.action,
        "version": row.version,
        "changes": row.changes,
    }
