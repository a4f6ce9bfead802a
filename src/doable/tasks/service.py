"""Task use cases. Each public write is one unit of work; signals go out after commit."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    Subquery,
    UnaryExpression,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    inspect,
    literal,
    not_,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import ETags

from doable import signals
from doable.attachments.service import stored_files
from doable.auth.models import User
from doable.categories.models import Category, task_category
from doable.categories.service import resolve_categories
from doable.changes.log import fields_changed, record_task
from doable.changes.models import Change
from doable.db import Paged, UTCDateTime, utcnow, valid_id
from doable.errors import Conflict, PreconditionFailed, ProblemType, ValidationFailed
from doable.extensions import db
from doable.reminders import schedule
from doable.tasks import quick_add, recurrence, search, timing
from doable.tasks.access import (
    READ_TASK,
    TASK_ROWS,
    VIEWER,
    Access,
    Branch,
    Scope,
    audience,
    get_task_for,
    get_task_row_for,
    viewer,
    visible_branches,
)
from doable.tasks.models import (
    CATEGORY_SEPARATOR,
    Priority,
    Status,
    Task,
    TaskCount,
    category_names,
)
from doable.tasks.schemas import (
    MAX_CATEGORIES,
    body_etag,
    task_body,
    task_data,
    task_row_body,
    task_row_data,
)
from doable.tasks.timing import Occurrence
from doable.unit_of_work import on_conflict, publish, use_case

WRITE_ATTEMPTS = 3


_Shown = TypeVar("_Shown", Task, Row[Any])


@dataclass(frozen=True, kw_only=True)
class Page(Paged, Generic[_Shown]):
    """A page of tasks: ``Task``s (``list_tasks``) or rows (``list_task_rows``)."""

    tasks: list[_Shown]


def list_tasks(*, user: User, page: int = 1, per_page: int = 10, **query: Any) -> Page[Task]:
    """One page of the tasks ``user`` can see (``_listed``), as ``Task``s with their
    owners, access and category names: two statements, whatever the page size."""
    return _read_page(user, _TASKS, db.session.scalars, page=page, per_page=per_page, **query)


def list_task_rows(
    *, user: User, page: int = 1, per_page: int = 10, **query: Any
) -> Page[Row[Any]]:
    """``list_tasks`` read as rows (``TASK_ROWS``), for a reader that only shows them
    (``page_body``): the same statements choose the same tasks in the same order; only
    the last one reads columns instead of building ``Task``s.

    Run on the session's connection, as ``get_task_row_for`` is (nothing pending is
    flushed first). A first page of ten read and written out took 1.58 to 1.74 ms CPU
    against 1.66 to 1.79 ms for ``Task``s through ``jsonify`` (SQLite, in-process): most of
    either was ``_listed`` building the statements that choose the page, which it now
    builds once per shape of list."""
    run = db.session.connection().execute
    return _read_page(user, TASK_ROWS, run, page=page, per_page=per_page, **query)


def _read_page(
    user: User,
    columns: Select[Any],
    run: Callable[[Select[Any], dict[str, Any]], Iterable[Any]],
    *,
    page: int,
    per_page: int,
    **query: Any,
) -> Page[Any]:
    """The page ``_listed`` chooses, its tasks read by ``run`` with ``columns``."""
    listed = _listed(user, page=page, per_page=per_page, **query)
    read = listed.of(columns)
    tasks = [] if read is None else list(run(read, listed.params))
    return Page(tasks=tasks, total=listed.total, page=page, per_page=per_page)


#: The page's ``Task``s, as ``list_tasks`` reads them (``_Listed.of``); built once.
_TASKS = select(Task).options(*READ_TASK)

#: How many shapes of the list's statements (``_Shape``) a process keeps built.
_SHAPES = 256


@dataclass(frozen=True)
class _Shape:
    """What a list's statements are built from, apart from the values they bind: the
    scope, which filters are given (and ``overdue``'s sense, which changes the SQL)."""

    scope: Scope
    filters: tuple[str, ...]
    overdue: bool | None


@dataclass(frozen=True)
class _Listed:
    """A page of the list, chosen: the total, the page's ids and sort keys (``None``
    when the page is past the end of the list), and the parameters its statements bind.
    ``built``: the ids are a statement kept per shape (``_page_ids``), not a search's."""

    total: int
    ids: Subquery | None
    sort: str
    params: dict[str, Any]
    built: bool = True

    def of(self, columns: Select[Any]) -> Select[Any] | None:
        """``columns`` (a statement reading ``task``, built once) for the page's tasks,
        in the page's order; ``None`` if the page is empty."""
        if self.ids is None:
            return None
        if self.built:
            return _reading(columns, self.ids, self.sort)
        return _reading.__wrapped__(columns, self.ids, self.sort)


@functools.lru_cache(maxsize=_SHAPES)
def _reading(columns: Select[Any], ids: Subquery, sort: str) -> Select[Any]:
    return columns.join(ids, Task.id == ids.c.id).order_by(
        *_order_by(ids.c.sort_key, ids.c.id, sort)
    )


def _listed(
    user: User,
    *,
    page: int,
    per_page: int,
    scope: Scope = "all",
    sort: str = "-created_at",
    q: str | None = None,
    **filters: Any,
) -> _Listed:
    """Which of the tasks ``user`` can see are on the page: the one rule for every list
    (filters, search, visibility, order, window), in one statement that counts them.

    The statements are built once per shape (``_Shape``, the sort, the window's
    direction, the branches read) with bound parameters, so a request only binds its
    values: built per request, with SQLAlchemy keying each for its compiled cache, they
    were half of a first page's time. A search's are built per request (on SQLite its
    query is part of the SQL)."""
    shape, params = _filtered(scope, lambda: _zone_of(user), **filters)
    params.update(viewer(user))
    found = search.Search.of(q, db.session.get_bind().dialect.name) if q is not None else None
    counts = _count_visible(user, shape, found, params)
    total = sum(counted.count for counted in counts)
    offset = (page - 1) * per_page
    if offset >= total:
        return _Listed(total, None, sort, params)
    window = _window(total, offset, per_page)
    params.update(
        page_limit=window.limit, page_offset=window.offset, page_cut=window.offset + window.limit
    )
    reads = tuple(counted.scans(window) if counted.count else None for counted in counts)
    if found is None:
        return _Listed(total, _page_ids(shape, sort, window.backwards, reads), sort, params)
    conditions = _filter_conditions(shape)
    wheres = [
        _matching(counted.branch, conditions, found, user.id, scan=bool(read))
        for counted, read in zip(counts, reads, strict=True)
        if read is not None
    ]
    return _Listed(total, _page_rows(wheres, sort, window.backwards), sort, params, built=False)


def get_task(*, user: User, task_id: int) -> Task:
    return get_task_for(user=user, task_id=task_id, need=Access.VIEW)


def get_task_row(*, user: User, task_id: int) -> Row[Any]:
    """``get_task`` as one row, for a reader that only shows it (``task_row_body``)."""
    return get_task_row_for(user=user, task_id=task_id, need=Access.VIEW)


_TASK_ROWS_IN = TASK_ROWS.where(Task.id.in_(bindparam("task_ids", expanding=True)))


def visible_task_rows(*, user: User, task_ids: Iterable[int]) -> dict[int, Row[Any]]:
    """The tasks of ``task_ids`` that ``user`` can see, by id, as ``get_task_row`` reads
    them, in one statement whatever their number; the others (``get_task_row`` answers
    NotFound for them) are left out."""
    ids = [task_id for task_id in dict.fromkeys(task_ids) if valid_id(task_id)]
    if not ids:
        return {}
    params = {"task_ids": ids, **viewer(user)}
    rows = db.session.connection().execute(_TASK_ROWS_IN, params)
    return {row.id: row for row in rows if row.access is not None}


class WrittenTask(NamedTuple):
    """A task as a write left it, as its writer sees it: the names of the row
    ``get_task_row_for`` reads, so ``task_row_body`` writes it with the bytes (and
    ETag) a read of it gives. Built from what the write read and wrote, not read
    again, and without a ``Task``: with one, a PUT's service call and its body took
    621 to 743 µs CPU, without 469 to 587 (SQLite, in-process; bench/README.md, issue 15)."""

    id: int
    title: str
    description: str
    status: str
    priority: int
    due_date: date | None
    user_id: int
    owner_username: str
    access: str | None
    category_names: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    due_time: time | None = None
    timezone: str | None = None
    due_at: datetime | None = None
    recurrence_rule: str | None = None
    recurrence_mode: str | None = None
    recurrence_anchor: datetime | None = None
    reminders: list[dict[str, str]] | None = None
    #: Its owner's zone, as a read gives it (``None``: not read, by a create).
    owner_timezone: str | None = None


@use_case(retry=WRITE_ATTEMPTS)
def create_task(*, user: User, categories: list[str] | None = None, **fields: Any) -> WrittenTask:
    """Create a task owned by ``user``; category names it has not created yet are created
    (again from the start if a concurrent request created one of them first)."""
    tagged = resolve_categories(owner_id=user.id, names=categories or [])
    fields = timing.settle(None, timing.columns(fields), lambda: _zone_of(user))
    row = _insert(user, {"reminders": [], **fields})
    _tag(row["id"], tagged)
    _count_created(user.id)
    written = WrittenTask(
        **row,
        owner_username=user.username,
        access=Access.OWNER.label,
        category_names=_joined(tagged),
    )
    created = {
        name: [None, value]
        for name, value in _logged(task_row_data(written)).items()
        if name in LOGGED_FIELDS or value not in (None, [])
    }
    _record(user, written, "created", created)  # its viewers: its owner alone
    if written.reminders:  # none: no schedule to write (two statements a create saved)
        schedule.reschedule_task(written.id)
    return written


class NothingToChange(Exception):
    """The update would leave the task as it is: nothing was written."""


@use_case(retry=WRITE_ATTEMPTS)
def update_task(
    *,
    user: User,
    task_id: int,
    changes: dict[str, Any],
    if_match: ETags | None = None,
) -> WrittenTask:
    """Apply ``changes``. With ``if_match``, refuse (412) unless the task is unchanged
    since the client read it; two writes racing on one version cannot both win.
    Without it, the last writer wins: concurrent writers take turns on the task's lock,
    so each one succeeds (200) on top of the previous one's version.

    Only the fields that differ are written (categories compared ignoring case and
    order). A change that changes nothing writes nothing and announces nothing: it
    raises ``NothingToChange`` before the precondition is checked (the change is
    already applied, whatever version the client read: RFC 9110, If-Match), so the API
    answers with the task as it is and a page says there was nothing to save.

    The task is read as a row and written with Core statements: ``before`` and
    ``written`` hold each changed field's old and new value, side by side."""
    return _update(user, task_id, changes, if_match)


@use_case(retry=WRITE_ATTEMPTS)
def retag_task(
    *, user: User, task_id: int, add: str | None = None, remove: str | None = None
) -> WrittenTask:
    """Give the task the category ``add`` (its owner's, created if missing, as
    ``update_task`` does) or take ``remove`` from it (names ignoring case), in one
    transaction with the read that chose its names. ``NothingToChange`` when it has
    ``add`` already, or lacks ``remove``; ``ValidationFailed`` past ``MAX_CATEGORIES``."""
    task = get_task_row_for(user=user, task_id=task_id, need=Access.EDIT, for_update=True)
    names = category_names(task)
    if remove is not None:
        names = [name for name in names if name.lower() != remove.lower()]
    if add is not None and add.lower() not in {name.lower() for name in names}:
        names.append(add)
    if len(names) > MAX_CATEGORIES:
        raise ValidationFailed(
            {"category": [f"Task {task_id} has {MAX_CATEGORIES} categories, the most it may have."]}
        )
    return _update(user, task_id, {"categories": names}, None)


def _update(
    user: User, task_id: int, changes: dict[str, Any], if_match: ETags | None
) -> WrittenTask:
    before = get_task_row_for(user=user, task_id=task_id, need=Access.EDIT, for_update=True)
    fields = _differences(before, timing.columns(dict(changes)))
    if not fields:
        raise NothingToChange(task_id)
    _check_precondition(before, if_match)
    _on_write_conflict(task_id, if_match)
    names = fields.pop("categories", None)
    fields = timing.settle(before, fields, lambda: before.owner_timezone)
    rolled = None
    merged = _merged(before, fields)
    if fields.get("status") == Status.COMPLETED and merged.recurrence_rule is not None:
        rolled = timing.roll(merged, before.owner_timezone, skip=False, now=utcnow())
        fields.update(rolled.fields)
    written = _write_fields(before, fields)
    if names is not None:  # the task's categories are its owner's, whoever edits it
        tagged = resolve_categories(owner_id=before.user_id, names=names, actor_id=user.id)
        _retag(task_id, tagged)
        written["category_names"] = _joined(tagged)
    return _written(user, before, written, rolled)


def _on_write_conflict(task_id: int, if_match: ETags | None) -> None:
    """What a write that finds the task changed under it does: with a precondition,
    refuse (this version is gone); without, retry on the newer version."""
    if if_match is not None:
        on_conflict(_changed(task_id), retry=False)
    else:
        on_conflict(_kept_changing(task_id))


def _merged(before: Row[Any], fields: dict[str, Any]) -> WrittenTask:
    return WrittenTask(**{**before._mapping, **fields})


def _written(
    user: User,
    before: Row[Any],
    written: dict[str, Any],
    rolled: timing.Rolled | None = None,
    *,
    skipped: bool = False,
    reopened: list[str | None] | None = None,
) -> WrittenTask:
    """The task as ``written`` left ``before``: its change logged (an occurrence completed
    or skipped when ``rolled`` moved it on) and its reminders rescheduled."""
    after = _merged(before, written)
    changed = fields_changed(_logged(task_row_data(before)), _logged(task_row_data(after)))
    action = "updated"
    if rolled is not None and (rolled.next is not None or skipped):
        action = "occurrence_skipped" if skipped else "occurrence_completed"
        changed = {"occurrence": [rolled.done, rolled.next], **changed}
    elif reopened is not None:  # an Undo moved it back: [current, reopened]
        changed = {"occurrence": reopened, **changed}
    _record(user, after, action, changed)
    reminded = bool(before.reminders or after.reminders)  # else it has no schedule rows
    if reminded and (rolled is not None or not _RESCHEDULED.isdisjoint(written)):
        schedule.reschedule_task(after.id)
    return after


#: What a task's reminders depend on: a write of any of them reschedules them.
_RESCHEDULED = frozenset(
    {
        "due_date",
        "due_time",
        "timezone",
        "recurrence_rule",
        "recurrence_mode",
        "reminders",
        "status",
    }
)


@use_case(retry=WRITE_ATTEMPTS)
def complete_occurrence(
    *, user: User, task_id: int, occurrence: str | None = None, if_match: ETags | None = None
) -> WrittenTask:
    """Complete the task's current occurrence (``occurrence``: its key, which makes a
    retry harmless): a recurring task moves on to its next one and is pending again; one
    that does not recur, or whose series has ended, is completed. ``NothingToChange``
    when that occurrence is done already; ``Conflict`` when it is still to come."""
    return _move_on(user, task_id, occurrence, if_match, skip=False)


@use_case(retry=WRITE_ATTEMPTS)
def skip_occurrence(
    *, user: User, task_id: int, occurrence: str | None = None, if_match: ETags | None = None
) -> WrittenTask:
    """Skip the recurring task's current occurrence: it moves on to the next one, as
    ``complete_occurrence`` does, but logged as skipped (``Conflict`` if it does not recur)."""
    return _move_on(user, task_id, occurrence, if_match, skip=True)


def _move_on(
    user: User, task_id: int, occurrence: str | None, if_match: ETags | None, *, skip: bool
) -> WrittenTask:
    before = get_task_row_for(user=user, task_id=task_id, need=Access.EDIT, for_update=True)
    if skip and before.recurrence_rule is None:
        raise _not_recurring(task_id)
    if _done_already(before, occurrence):
        raise NothingToChange(task_id)
    _check_precondition(before, if_match)
    _on_write_conflict(task_id, if_match)
    return _moved_on(user, before, skip=skip)


def _moved_on(user: User, before: Row[Any], *, skip: bool) -> WrittenTask:
    """The task read as ``before`` (locked) completed, or moved on to its next occurrence."""
    rolled = None
    fields: dict[str, Any] = {"status": Status.COMPLETED.value}
    if before.recurrence_rule is not None:
        rolled = timing.roll(before, before.owner_timezone, skip=skip, now=utcnow())
        fields = rolled.fields
    return _written(user, before, _write_fields(before, fields), rolled, skipped=skip)


class Previous(NamedTuple):
    """What ``set_done`` changed, as it was: what ``restore`` puts back."""

    status: str
    due_date: date | None = None
    due_time: time | None = None


class Toggled(NamedTuple):
    """A task ticked done or not done (``set_done``), and what it was before."""

    task: WrittenTask
    previous: Previous


@use_case(retry=WRITE_ATTEMPTS)
def set_done(*, user: User, task_id: int, done: bool, occurrence: str | None = None) -> Toggled:
    """Tick the task done, as ``complete_occurrence`` completes its current occurrence
    (``occurrence``: the key of the one the tick was shown for, so a second submit of it
    is ``NothingToChange``, not the next one completed too; a recurring task moves on to
    its next one and is pending again); or not done (``done`` false): a completed task is
    pending again. ``NothingToChange`` when it is so already. The last writer wins, as a
    click means "now"."""
    before = get_task_row_for(user=user, task_id=task_id, need=Access.EDIT, for_update=True)
    previous = Previous(before.status, before.due_date, before.due_time)
    if (before.status == Status.COMPLETED) == done:
        raise NothingToChange(task_id)
    if done and occurrence is not None and _done_already(before, occurrence):
        raise NothingToChange(task_id)
    _on_write_conflict(task_id, None)
    if done:
        return Toggled(_moved_on(user, before, skip=False), previous)
    written = _write_fields(before, {"status": Status.PENDING.value})
    return Toggled(_written(user, before, written), previous)


@use_case(retry=WRITE_ATTEMPTS)
def restore(*, user: User, task_id: int, previous: Previous, if_match: ETags) -> WrittenTask:
    """Undo ``set_done`` (``previous``: what it returned, which the caller vouches for):
    the status ``previous`` holds again, and a recurring task's due date and time (its
    series is as it was: a roll never moves its anchor), the occurrence it completed
    reopened (logged as ``updated`` with ``occurrence`` ``[next, reopened]``, which
    ``_last_done`` reads). Only while the task is as ``set_done`` left it (``if_match``:
    its ETag then), else ``PreconditionFailed``: an edit made since is never overwritten.
    Only the inverse of a tick: a task is completed again only where it stands (a tick
    that rolled a recurring task forward left it pending), else ``ValidationFailed``."""
    before = get_task_row_for(user=user, task_id=task_id, need=Access.EDIT, for_update=True)
    _check_precondition(before, if_match)
    _on_write_conflict(task_id, if_match)
    fields: dict[str, Any] = {"status": previous.status}
    if before.recurrence_rule is not None and previous.due_date is not None:
        fields.update(_due_again(before, previous))
    fields = {name: value for name, value in fields.items() if getattr(before, name) != value}
    if not fields:
        raise NothingToChange(task_id)
    if previous.status == Status.COMPLETED and {"due_date", "due_time"} & fields.keys():
        raise ValidationFailed({"status": ["A tick never completed a task and moved it"]})
    written = _write_fields(before, fields)
    reopened = timing.current_key(previous)
    if "due_at" not in fields or reopened is None:
        return _written(user, before, written)
    return _written(user, before, written, reopened=[timing.current_key(before), reopened])


def _due_again(task: Row[Any], previous: Previous) -> dict[str, Any]:
    """The due columns of ``previous``'s occurrence of recurring ``task`` (its zone's)."""
    if previous.due_date is None or (previous.due_time is None) != (task.due_time is None):
        raise ValidationFailed({"due_time": ["Not the task's kind of occurrence"]})
    tz = timing.effective_zone(task, task.owner_timezone)
    moment = recurrence.due_moment(previous.due_date, previous.due_time)
    due_at = recurrence.instant_or_none(moment, tz)
    if due_at is None or not recurrence.in_calendar(previous.due_date):
        raise ValidationFailed({"due_date": ["Outside the calendar"]})
    return {"due_date": previous.due_date, "due_time": previous.due_time, "due_at": due_at}


def _done_already(task: Row[Any], occurrence: str | None) -> bool:
    """``timing.already_done``; and for ``after_completion``, the occurrence last
    completed or skipped too: completing one early can move the task to a day before it
    (due Friday, done Monday: due Tuesday), and a retry naming it is no future one."""
    early = occurrence is not None and task.recurrence_mode == "after_completion"
    return (early and occurrence == _last_done(task.id)) or timing.already_done(task, occurrence)


def _last_done(task_id: int) -> str | None:
    """The key of the task's occurrence last completed or skipped (its change log),
    unless the Undo of that tick (``restore``: the task's next ``updated`` change, as
    its ETag guard allows no other in between) reopened it."""
    last = db.session.execute(
        select(Change.id, Change.changes)
        .where(
            Change.task_id == task_id,
            Change.action.in_(("occurrence_completed", "occurrence_skipped")),
        )
        .order_by(Change.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    done = str(last.changes["occurrence"][0])
    then = db.session.scalar(
        select(Change.changes)
        .where(Change.task_id == task_id, Change.id > last.id, Change.action == "updated")
        .order_by(Change.id)
        .limit(1)
    )
    moved = (then or {}).get("occurrence")
    return None if moved is not None and moved[1] == done else done


def _not_recurring(task_id: int) -> Conflict:
    return Conflict(
        f"Task {task_id} does not recur (no recurrence)", problem_type=ProblemType.NOT_RECURRING
    )


class Series(NamedTuple):
    """A recurring task's next occurrences, and the zone they fall in."""

    timezone: str
    occurrences: list[Occurrence]


def get_series(*, user: User, task_id: int, limit: int = 10) -> Series:
    """Up to ``limit`` occurrences of the task from its current one (``timing.upcoming``);
    ``Conflict`` (not recurring) for a task without recurrence."""
    task = get_task_row_for(user=user, task_id=task_id, need=Access.VIEW)
    if task.recurrence_rule is None:
        raise _not_recurring(task_id)
    zone_name = task.timezone or task.owner_timezone
    return Series(zone_name, timing.upcoming(task, task.owner_timezone, limit))


def list_occurrences(*, user: User, task_id: int, limit: int = 10) -> list[Occurrence]:
    """``get_series``'s occurrences."""
    return get_series(user=user, task_id=task_id, limit=limit).occurrences


@use_case
def delete_task(*, user: User, task_id: int, if_match: ETags | None = None) -> Task:
    """Delete the task; with ``if_match``, only if unchanged since the client read it.
    It waits for a concurrent write of the task to commit, then deletes what it wrote.
    Its attachments' files are removed once the deletion commits."""
    task = get_task_for(user=user, task_id=task_id, need=Access.OWNER, for_update=True)
    _check_precondition(task, if_match)
    on_conflict(_changed(task_id), retry=False)
    watchers = audience(task)
    files = stored_files(task_ids=[task_id])  # before the rows go (the database cascades)
    db.session.delete(task)
    db.session.flush()  # the DELETE, then the counter, in the order a create writes
    _count(task.user_id, -1)
    publish(signals.files_released, storage_keys=files)
    record_deleted(user, task, watchers)
    return task  # as it was: a page names what it deleted


#: The fields of a task its changes are logged by, as the API shows them.
LOGGED_FIELDS = ("title", "description", "status", "priority", "due_date", "categories")
#: Logged too, but on a task's creation and deletion only when set.
TIME_FIELDS = ("due_time", "timezone", "recurrence", "reminders")


def _logged(shown: dict[str, Any]) -> dict[str, Any]:
    """The logged fields of a task as the API shows it (``task_data``)."""
    return {name: shown[name] for name in (*LOGGED_FIELDS, *TIME_FIELDS)}


def record_deleted(user: User, task: Task, audience: Iterable[int]) -> None:
    """Log that ``user`` deleted ``task`` (read as ``READ_TASK`` reads it, before it
    went), for ``audience``: each logged field as ``[old, None]``. Deleting an account
    logs this for each of its tasks that was shared (``auth.service.delete_account``)."""
    deleted = {
        name: [value, None]
        for name, value in _logged(task_data(task)).items()
        if name in LOGGED_FIELDS or value not in (None, [])
    }
    _record(user, task, "deleted", deleted, audience=dict.fromkeys(audience))


def _record(
    user: User,
    task: Task | WrittenTask,
    action: str,
    changes: dict[str, list[Any]],
    audience: dict[int, dict[str, Any] | None] | None = None,
) -> None:
    """Log a change ``user`` made to ``task`` (as it is after it), for ``audience``
    (``None``: everyone who can see it now)."""
    record_task(task.id, task.version, action, changes, actor_id=user.id, audience=audience)


#: A new task's row, returned whole as written (with its columns' defaults); built once.
_INSERT_TASK = insert(Task).returning(*Task.__table__.columns)


def _insert(owner: User, fields: dict[str, Any]) -> dict[str, Any]:
    """Insert the task's row, owned by ``owner``, with one prebuilt INSERT on the
    connection; return the row as written.

    The ORM's flush of a new task cost about half of a POST under cProfile: it sorts
    the session's objects, cascades to the owner and builds the INSERT per request."""
    values = {**fields, "user_id": owner.id, "version": 1}  # the ORM's first version
    return db.session.connection().execute(_INSERT_TASK, values).one()._asdict()


#: Tag a task with categories (``category_ids``) it does not have yet; untag it from
#: every category but those. Built once; run on the connection like the task's writes.
_TAG = insert(task_category).from_select(
    ["task_id", "category_id"],
    select(cast(bindparam("task_id"), Integer), Category.id).where(
        Category.id.in_(bindparam("category_ids", expanding=True)),
        ~exists().where(
            task_category.c.task_id == bindparam("task_id", type_=Integer),
            task_category.c.category_id == Category.id,
        ),
    ),
)
_LINK = insert(task_category)
_UNTAG_OTHERS = delete(task_category).where(
    task_category.c.task_id == bindparam("task_id", type_=Integer),
    task_category.c.category_id.not_in(bindparam("category_ids", expanding=True)),
)


def _tag(task_id: int, categories: list[Category]) -> None:
    """Give a new task ``categories`` (one INSERT, none without categories)."""
    if categories:
        links = [{"task_id": task_id, "category_id": category.id} for category in categories]
        db.session.connection().execute(_LINK, links)


def _retag(task_id: int, categories: list[Category]) -> None:
    """Make ``categories`` the task's: the links it no longer has go, the new ones come
    (the ones it keeps stay as they are, as the ORM's collection writes them)."""
    params = {"task_id": task_id, "category_ids": [category.id for category in categories]}
    connection = db.session.connection()
    connection.execute(_UNTAG_OTHERS, params)
    if categories:
        connection.execute(_TAG, params)


#: A task's row written at the version it was read at, as the ORM's versioned flush
#: writes it; built once. The columns to set are the parameters' names, so one
#: statement serves every set of fields (SQLAlchemy compiles each set once).
_WRITE_TASK = update(Task).where(
    Task.id == bindparam("row_id"), Task.version == bindparam("row_version")
)


def _write_fields(task: Row[Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Write ``fields`` of the task read as ``task`` (and its ``updated_at``, and the
    next version) with one prebuilt UPDATE on the connection; return what was written.

    The ORM's versioned flush of the same change cost four times as much (a sixth of
    a PUT under cProfile, against a twenty-fifth). A row changed or deleted since it
    was read fails as that flush would (``StaleDataError``), so the unit of work
    answers as it always did."""
    values = {**fields, "updated_at": utcnow(), "version": task.version + 1}
    params = {**values, "row_id": task.id, "row_version": task.version}
    if db.session.connection().execute(_WRITE_TASK, params).rowcount != 1:
        raise StaleDataError(f"Task {task.id} changed or went since it was read")
    return values


def _joined(categories: list[Category]) -> str | None:
    """``category_names`` as ``READ_TASK`` computes it for a task with ``categories``."""
    return CATEGORY_SEPARATOR.join(category.name for category in categories) or None


def _differences(task: Row[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``data`` that differ from the task (categories ignoring case and order)."""
    changes = {
        name: value
        for name, value in data.items()
        if name != "categories" and getattr(task, name) != value
    }
    names = data.get("categories")
    if names is not None and {n.lower() for n in names} != {
        n.lower() for n in category_names(task)
    }:
        changes["categories"] = names
    return changes


def _count_created(user_id: int) -> None:
    """Count a task just added, last thing before commit so SQLite's write lock is held
    briefly; a user without a counter gets one from a real count (which includes it)."""
    if _count(user_id, +1) == 0:
        counted = select(func.count()).select_from(Task).where(Task.user_id == user_id)
        db.session.execute(
            insert(TaskCount).from_select(
                ["user_id", "owned"], select(literal(user_id), counted.scalar_subquery())
            )
        )


#: Move a user's task counter: built once, and run on the connection, not through the
#: ORM, which would first look for counters to synchronise in the session (no request
#: loads one): 19 µs instead of 226 on SQLite, every create and delete.
_MOVE_COUNTER = (
    update(TaskCount)
    .where(TaskCount.user_id == bindparam("owner_id"))
    .values(owned=TaskCount.owned + bindparam("delta"))
)


def _count(user_id: int, delta: int) -> int:
    """Move the user's counter by ``delta``; return how many counters changed (0 or 1)."""
    result = db.session.connection().execute(_MOVE_COUNTER, {"owner_id": user_id, "delta": delta})
    return int(result.rowcount)


def _check_precondition(task: Task | Row[Any], if_match: ETags | None) -> None:
    """Refuse unless ``if_match`` holds the ETag of the task as read (a ``Task`` or a row)."""
    if if_match is None:
        return
    body = task_body(task) if isinstance(task, Task) else task_row_body(task)
    if not if_match.contains(body_etag(body)):
        raise _changed(task.id)


def _changed(task_id: int) -> PreconditionFailed:
    return PreconditionFailed(f"Task {task_id} has changed since you read it (If-Match)")


def _kept_changing(task_id: int) -> Conflict:
    return Conflict(
        f"Task {task_id} kept changing while it was being updated; try again",
        problem_type=ProblemType.CONCURRENT_UPDATE,
    )


def _filtered(
    scope: Scope,
    zone_name: Callable[[], str],
    *,
    status: str | None = None,
    priority: Priority | None = None,
    due_before: date | None = None,
    due_after: date | None = None,
    overdue: bool | None = None,
    category: str | None = None,
) -> tuple[_Shape, dict[str, Any]]:
    """The filters other than ``q``: which are given (the statements' shape) and the
    values the statements bind (``_filter_conditions``), the dates reckoned in the
    viewer's zone (``zone_name()``, read only for a filter by date)."""
    values = {
        "category": category,
        "status": status,
        "priority": None if priority is None else int(priority),
        "due_before": due_before,
        "due_after": due_after,
    }
    given = {name: value for name, value in values.items() if value is not None}
    params = {f"filter_{name}": value for name, value in given.items()}
    if due_before is None and due_after is None and overdue is None:
        return _Shape(scope, tuple(given), overdue), params
    tz = recurrence.zone(zone_name())
    if due_before is not None:  # a timed task due before the viewer's next day began
        params["filter_due_before_at"] = _day_start(due_before, tz, +1)
        params["filter_due_before_near"] = _days_on(due_before, +_NEAR)
    if due_after is not None:
        params["filter_due_after_at"] = _day_start(due_after, tz, 0)
        params["filter_due_after_near"] = _days_on(due_after, -_NEAR)
    if overdue is not None:
        now = utcnow()
        params.update(filter_today=recurrence.today_in(tz, now), filter_now=now)
    return _Shape(scope, tuple(given), overdue), params


def due_between(
    user: User, *, due_before: date, due_after: date | None = None
) -> tuple[list[ColumnElement[bool]], dict[str, Any]]:
    """The list's ``due_before`` / ``due_after`` filters (due on or between those days
    of ``user``'s), as conditions on ``task`` and the values they bind: for a reader
    that chooses tasks by their due day with the list's rule (``tasks.agenda``)."""
    zone_name = functools.partial(_zone_of, user)
    shape, params = _filtered("all", zone_name, due_before=due_before, due_after=due_after)
    return _filter_conditions(shape), params


#: The viewer's zone, for a list filtered by date (``_zone_of``); built once.
_ZONE_OF = select(User.timezone).where(User.id == VIEWER)


def parse_quick_add(*, user: User, text: str) -> quick_add.QuickTask:
    """``text`` read as a task (``quick_add.parse``) on ``user``'s today, in their zone,
    by ``utcnow()``: the clock of Today, Upcoming and the list. Nothing is written."""
    return quick_add.parse(text, today=today_of(user))


def today_of(user: User) -> date:
    """``user``'s date now, in their zone, by ``utcnow()``: the one "today" of quick
    add, Today, Upcoming and the list."""
    return recurrence.today_in(recurrence.zone(_zone_of(user)), utcnow())


def _zone_of(user: User) -> str:
    """``user``'s zone: read with one prebuilt statement if the request's ``User`` was
    loaded without it (``auth.tokens._partial_user``), not by the ORM's lazy load."""
    if "timezone" not in inspect(user).unloaded:
        return user.timezone
    zone_name: str = db.session.connection().execute(_ZONE_OF, viewer(user)).scalar_one()
    return zone_name


#: Days between a task's due date and the viewer's local date of its due instant, at
#: most: zones are 26 hours apart at most, and a due time adds less than a day.
_NEAR = 3


def _days_on(day: date, days: int) -> date:
    """``day`` moved by ``days``, held within the calendar."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _day_start(day: date, tz: ZoneInfo, days: int) -> datetime:
    """The instant the local day ``days`` after ``day`` begins in ``tz`` (the calendar's
    last or first instant beyond its ends)."""
    try:
        return recurrence.instant(datetime.combine(day + timedelta(days=days), time(0)), tz)
    except OverflowError:
        late = days > 0 or day.year > 1
        return (datetime.max if late else datetime.min).replace(tzinfo=UTC)


_DATED, _TIMED = Task.due_time.is_(None), Task.due_time.is_not(None)
_MOMENT = UTCDateTime()
#: ``Task.overdue``, with the viewer's date and now bound (``filter_today``,
#: ``filter_now``), not built in: a task with a due time once that instant has passed,
#: one with a date alone once the viewer's date is past it.
_LATE = (Task.status != Status.COMPLETED) & or_(
    _DATED & (Task.due_date < bindparam("filter_today")),
    _TIMED & (Task.due_at < bindparam("filter_now", type_=_MOMENT)),
)
#: Due on or before / after a date of the viewer's: by its date, or a timed task by
#: the viewer's date of its due instant; ``*_near`` keeps the due-date index usable.
_DUE_BEFORE = (Task.due_date <= bindparam("filter_due_before_near")) & or_(
    _DATED & (Task.due_date <= bindparam("filter_due_before")),
    _TIMED & (Task.due_at < bindparam("filter_due_before_at", type_=_MOMENT)),
)
_DUE_AFTER = (Task.due_date >= bindparam("filter_due_after_near")) & or_(
    _DATED & (Task.due_date >= bindparam("filter_due_after")),
    _TIMED & (Task.due_at >= bindparam("filter_due_after_at", type_=_MOMENT)),
)


def _filter_conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    """The conditions of the filters ``shape`` gives, their values bound (``_filtered``);
    ``q``'s depends on the branch (``_matching``)."""
    given = shape.filters
    conditions: list[ColumnElement[bool]] = []
    if "category" in given:
        tagged = select(task_category.c.task_id).join(Category)
        named = func.lower(Category.name) == func.lower(bindparam("filter_category", type_=String))
        conditions.append(Task.id.in_(tagged.where(named)))
    if "status" in given:
        conditions.append(Task.status == bindparam("filter_status"))
    if "priority" in given:
        conditions.append(Task.priority == bindparam("filter_priority"))
    if "due_before" in given:
        conditions.append(_DUE_BEFORE)
    if "due_after" in given:
        conditions.append(_DUE_AFTER)
    if shape.overdue is not None:
        conditions.append(_LATE if shape.overdue else or_(Task.due_date.is_(None), not_(_LATE)))
    return conditions


_SORT_COLUMNS: dict[str, Any] = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "due_date": Task.due_date,
    "priority": Task.priority,
    "title": func.lower(Task.title),
}


def _matching(
    branch: Branch,
    conditions: list[ColumnElement[bool]],
    found: search.Search | None,
    owner_id: int | None = None,
    *,
    scan: bool = False,
) -> list[ColumnElement[bool]]:
    """The branch's rows in the list: the filters, and the search if there is one
    (``owner_id``: the viewer's, which narrows an owned branch's search inside the
    index; ``scan``: ``_Counted.scans``)."""
    where = [branch.condition, *conditions]
    if found is not None:
        where.append(found.matches(owner_id=owner_id if branch.owned else None, scan=scan))
    return where


@dataclass(frozen=True)
class _Counted:
    """A visibility branch and how many of its tasks the list holds; ``owned``: how many
    tasks its owner has in all, read only for a search that chooses its reads (``scans``)."""

    branch: Branch
    count: int
    owned: int | None = None

    def scans(self, window: _Window) -> bool:
        """Whether a search's page reads its rows from the sort index, checking each
        against the matches, rather than fetching every match and sorting them: when
        that walks fewer rows, ``(offset + limit) * owned / count`` on average, than
        ``count``. A common word among 100,000 tasks (5,000 matches) walks some 200."""
        end = window.offset + window.limit
        return self.owned is not None and self.count * self.count > end * self.owned


#: The viewer's task counter (``TaskCount.owned``), as a column; built once.
_COUNTER = select(TaskCount.owned).where(TaskCount.user_id == VIEWER).scalar_subquery()


def _count_visible(
    user: User, shape: _Shape, found: search.Search | None, params: dict[str, Any]
) -> list[_Counted]:
    """Matching tasks per visibility branch (owned, shared), counted in one statement
    (``_counting``), run on the session's connection as the page's rows are (a Core
    statement: the session's ORM execution added nothing but 44 Python calls a page,
    5,329 against 5,285 for a first page in bench/hotpaths.py)."""
    if found is None:
        counting, with_owned = _prebuilt_counting(shape)
    else:
        counting, with_owned = _counting(shape, found, user.id)
    row = db.session.connection().execute(counting, params).one()
    owner_total = row[-1] if with_owned else None
    branches = visible_branches(shape.scope)
    return [
        _Counted(branch, count, owner_total if branch.owned else None)
        for branch, count in zip(branches, row[: len(branches)], strict=True)
    ]


def _counting(
    shape: _Shape, found: search.Search | None, owner_id: int | None = None
) -> tuple[Select[Any], bool]:
    """The statement counting the list's tasks per branch, and whether it also reads
    the owner's counter (its last column), for a search that chooses its reads."""
    branches = visible_branches(shape.scope)
    conditions = _filter_conditions(shape)
    counts: list[ColumnElement[Any]] = [
        select(func.count())
        .select_from(Task)
        .where(*_matching(branch, conditions, found, owner_id))
        .scalar_subquery()
        for branch in branches
    ]
    if not branches[0].owned:  # shared tasks only: nobody's counter says anything about them
        return select(*counts), False
    if not conditions and found is None:
        # Unfiltered: the owner's counter, if it exists, instead of counting every row.
        counts[0] = func.coalesce(_COUNTER, counts[0])
    elif not conditions and found is not None and owner_id is not None:
        # Searched only: counted inside the search index where it can be.
        in_index = found.count_owned(owner_id)
        counts[0] = counts[0] if in_index is None else in_index
    if found is not None and found.chooses_reads:
        # The counter, for the search's page to choose how to read its matches
        # (``scans``): a read by primary key, in the statement that runs anyway.
        return select(*counts, _COUNTER), True
    return select(*counts), False


@functools.lru_cache(maxsize=_SHAPES)
def _prebuilt_counting(shape: _Shape) -> tuple[Select[Any], bool]:
    """``_counting`` of a list without a search, built once per shape."""
    return _counting(shape, None)


@dataclass(frozen=True)
class _Window:
    """Which rows of the sorted list a page reads: ``limit`` rows after ``offset`` of
    them, counted from the end of the list when ``backwards``."""

    limit: int
    offset: int
    backwards: bool = False


def _window(total: int, offset: int, per_page: int) -> _Window:
    """The page's rows, counted from whichever end of the list is nearer.

    An OFFSET walks past every row it skips, so the last page of 100,000 tasks would
    read them all; read from the end (the sort reversed) it skips fewer than a page.
    The sort is a total order (id breaks ties), so both directions list the same rows.
    ``total`` is what the page reports, counted in the same request.
    """
    limit = min(per_page, total - offset)
    from_end = total - offset - limit
    if from_end < offset:
        return _Window(limit, from_end, backwards=True)
    return _Window(limit, offset)


@functools.lru_cache(maxsize=_SHAPES)
def _page_ids(
    shape: _Shape, sort: str, backwards: bool, reads: tuple[bool | None, ...]
) -> Subquery:
    """``_page_rows`` of a list without a search, built once per shape: ``reads`` says,
    per branch, whether the page reads from it (``None``: it has no rows to give)."""
    conditions = _filter_conditions(shape)
    branches = visible_branches(shape.scope)
    wheres = [
        _matching(branch, conditions, None)
        for branch, read in zip(branches, reads, strict=True)
        if read is not None
    ]
    return _page_rows(wheres, sort, backwards)


#: The window's bounds (``_Window``), bound per request: ``page_cut`` is where each
#: branch's run stops when two are merged (``offset + limit``).
_LIMIT, _OFFSET, _CUT = (
    bindparam(name, type_=Integer) for name in ("page_limit", "page_offset", "page_cut")
)


def _page_rows(wheres: list[list[ColumnElement[bool]]], sort: str, backwards: bool) -> Subquery:
    """Ids (and sort keys) of one page, read from indexes alone, in no particular order
    (the statement that loads them sorts them); the window's bounds are parameters.

    Each visibility branch is read in index order and cut at ``offset + limit``; with
    both, the two sorted runs are merged. Rows the page skips are never fetched.
    """
    key = _SORT_COLUMNS[sort.lstrip("-")]

    def branch_rows(where: list[ColumnElement[bool]], cut: Any, skip: Any = None) -> Select[Any]:
        return (
            select(Task.id.label("id"), key.label("sort_key"))
            .where(*where)
            .order_by(*_order_by(key, Task.id, sort, backwards=backwards))
            .limit(cut)
            .offset(skip)
        )

    if len(wheres) == 1:
        return branch_rows(wheres[0], _LIMIT, _OFFSET).subquery()
    runs = [branch_rows(where, _CUT).subquery() for where in wheres]
    merged = union_all(*(select(run.c.id, run.c.sort_key) for run in runs)).subquery()
    return (
        select(merged.c.id, merged.c.sort_key)
        .order_by(*_order_by(merged.c.sort_key, merged.c.id, sort, backwards=backwards))
        .limit(_LIMIT)
        .offset(_OFFSET)
        .subquery()
    )


def _order_by(
    key: Any, id_column: Any, sort: str, *, backwards: bool = False
) -> list[UnaryExpression[Any]]:
    """The sort key, then id in the same direction; tasks with no due date go last
    (``backwards``: the exact reverse of that order, so they come first)."""
    descending = sort.startswith("-") != backwards
    primary = key.desc() if descending else key.asc()
    if sort.lstrip("-") == "due_date":
        primary = primary.nulls_first() if backwards else primary.nulls_last()
    return [primary, id_column.desc() if descending else id_column.asc()]


def owner_zone_changed(user_id: int) -> None:
    """Recompute ``due_at`` of the user's tasks that name no zone of their own (and so
    follow their owner's), then their reminders (``reminders.schedule.reschedule_owner``);
    in the unit of work that changed the user's zone."""
    zone_name = db.session.scalars(select(User.timezone).where(User.id == user_id)).one()
    tz = recurrence.zone(zone_name)
    following = select(Task.id, Task.due_date, Task.due_time).where(
        Task.user_id == user_id, Task.timezone.is_(None), Task.due_date.is_not(None)
    )
    moved = [
        {
            "row_id": task_id,
            "due_at": recurrence.instant_or_none(recurrence.due_moment(day, clock), tz),
        }
        for task_id, day, clock in db.session.execute(following)
        if day is not None  # as the statement chose
    ]
    if moved:
        db.session.connection().execute(_MOVE_DUE_AT, moved)
    schedule.reschedule_owner(user_id)


#: A task's ``due_at``, moved with its owner's zone (``owner_zone_changed``); built once.
_MOVE_DUE_AT = (
    update(Task)
    .where(Task.id == bindparam("row_id"))
    .values(due_at=bindparam("due_at", type_=UTCDateTime()))
)
