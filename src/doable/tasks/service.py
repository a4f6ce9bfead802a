"""Task use cases. Each public write is one unit of work; signals go out after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Subquery,
    UnaryExpression,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
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
from doable.db import Paged, utcnow
from doable.errors import Conflict, PreconditionFailed, ProblemType
from doable.extensions import db
from doable.tasks import search
from doable.tasks.access import (
    READ_TASK,
    TASK_ROWS,
    Access,
    Branch,
    Scope,
    audience,
    get_task_for,
    get_task_row_for,
    viewer,
    visible_branches,
)
from doable.tasks.models import CATEGORY_SEPARATOR, Priority, Task, TaskCount, category_names
from doable.tasks.schemas import body_etag, task_body, task_row_body
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
    listed = _listed(user, page=page, per_page=per_page, **query)
    read = listed.of(select(Task).options(*READ_TASK))
    tasks = [] if read is None else list(db.session.scalars(read, viewer(user)))
    return Page(tasks=tasks, total=listed.total, page=page, per_page=per_page)


def list_task_rows(
    *, user: User, page: int = 1, per_page: int = 10, **query: Any
) -> Page[Row[Any]]:
    """``list_tasks`` read as rows (``TASK_ROWS``), for a reader that only shows them
    (``page_body``): the same statements choose the same tasks in the same order; only
    the last one reads columns instead of building ``Task``s.

    Run on the session's connection, as ``get_task_row_for`` is (nothing pending is
    flushed first). A first page of ten read and written out took 1.58 to 1.74 ms CPU
    against 1.66 to 1.79 ms for ``Task``s through ``jsonify`` (SQLite, in-process): most of
    either is ``_listed`` building and running the statements that choose the page."""
    listed = _listed(user, page=page, per_page=per_page, **query)
    read = listed.of(TASK_ROWS)
    rows = [] if read is None else list(db.session.connection().execute(read, viewer(user)))
    return Page(tasks=rows, total=listed.total, page=page, per_page=per_page)


@dataclass(frozen=True)
class _Listed:
    """A page of the list, chosen: the total, and the page's ids and sort keys
    (``None`` when the page is past the end of the list)."""

    total: int
    ids: Subquery | None
    sort: str

    def of(self, columns: Select[Any]) -> Select[Any] | None:
        """``columns`` (a statement reading ``task``) for the page's tasks, in the
        page's order; ``None`` if the page is empty."""
        if self.ids is None:
            return None
        ids = self.ids
        return columns.join(ids, Task.id == ids.c.id).order_by(
            *_order_by(ids.c.sort_key, ids.c.id, self.sort)
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
    (filters, search, visibility, order, window), in one statement that counts them."""
    conditions = _filter_conditions(**filters)
    found = search.Search.of(q, db.session.get_bind().dialect.name) if q is not None else None
    counts = _count_visible(user, scope, conditions, found)
    total = sum(counted.count for counted in counts)
    offset = (page - 1) * per_page
    if offset >= total:
        return _Listed(total, None, sort)
    window = _window(total, offset, per_page)
    wheres = [
        _matching(counted.branch, conditions, found, scan=counted.scans(window))
        for counted in counts
        if counted.count
    ]
    return _Listed(total, _page_rows(wheres, sort, window), sort)


def get_task(*, user: User, task_id: int) -> Task:
    return get_task_for(user=user, task_id=task_id, need=Access.VIEW)


def get_task_row(*, user: User, task_id: int) -> Row[Any]:
    """``get_task`` as one row, for a reader that only shows it (``task_row_body``)."""
    return get_task_row_for(user=user, task_id=task_id, need=Access.VIEW)


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


@use_case(retry=WRITE_ATTEMPTS)
def create_task(*, user: User, categories: list[str] | None = None, **fields: Any) -> WrittenTask:
    """Create a task owned by ``user``; category names it has not created yet are created
    (again from the start if a concurrent request created one of them first)."""
    tagged = resolve_categories(owner_id=user.id, names=categories or [])
    row = _insert(user, fields)
    _tag(row["id"], tagged)
    _count_created(user.id)
    publish(signals.task_created, task_id=row["id"], audience={user.id: Access.OWNER})
    return WrittenTask(
        **row,
        owner_username=user.username,
        access=Access.OWNER.label,
        category_names=_joined(tagged),
    )


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
    before = get_task_row_for(user=user, task_id=task_id, need=Access.EDIT, for_update=True)
    fields = _differences(before, changes)
    if not fields:
        raise NothingToChange(task_id)
    _check_precondition(before, if_match)
    if if_match is not None:  # someone wrote meanwhile: this version is gone
        on_conflict(_changed(task_id), retry=False)
    else:  # no precondition: take the newer version and apply the change to it
        on_conflict(_kept_changing(task_id))
    names = fields.pop("categories", None)
    written = _write_fields(before, fields)
    if names is not None:  # the task's categories are its owner's, whoever edits it
        tagged = resolve_categories(owner_id=before.user_id, names=names)
        _retag(task_id, tagged)
        written["category_names"] = _joined(tagged)
    publish(signals.tasks_changed, task_ids=[task_id])
    return WrittenTask(**{**before._mapping, **written})


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
    publish(signals.task_deleted, task_id=task_id, audience=watchers)
    return task  # as it was: a page names what it deleted


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


def _filter_conditions(
    *,
    status: str | None = None,
    priority: Priority | None = None,
    due_before: date | None = None,
    due_after: date | None = None,
    overdue: bool | None = None,
    category: str | None = None,
) -> list[ColumnElement[bool]]:
    """The filters other than ``q`` (whose condition depends on the branch: ``_matching``)."""
    conditions: list[ColumnElement[bool]] = []
    if category is not None:
        tagged = select(task_category.c.task_id).join(Category)
        named = func.lower(Category.name) == func.lower(category)
        conditions.append(Task.id.in_(tagged.where(named)))
    if status is not None:
        conditions.append(Task.status == status)
    if priority is not None:
        conditions.append(Task.priority == int(priority))
    if due_before is not None:
        conditions.append(Task.due_date <= due_before)
    if due_after is not None:
        conditions.append(Task.due_date >= due_after)
    if overdue is not None:
        late = Task.overdue.expression
        conditions.append(late if overdue else or_(Task.due_date.is_(None), not_(late)))
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
    *,
    scan: bool = False,
) -> list[ColumnElement[bool]]:
    """The branch's rows in the list: the filters, and the search if there is one
    (``scan``: ``_Counted.scans``)."""
    where = [branch.condition, *conditions]
    if found is not None:
        where.append(found.matches(owner_id=branch.owner_id, scan=scan))
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


def _count_visible(
    user: User,
    scope: Scope,
    conditions: list[ColumnElement[bool]],
    found: search.Search | None,
) -> list[_Counted]:
    """Matching tasks per visibility branch (owned, shared), counted in one statement."""
    branches = visible_branches(user, scope)
    counts: list[ColumnElement[int]] = [
        select(func.count())
        .select_from(Task)
        .where(*_matching(branch, conditions, found))
        .scalar_subquery()
        for branch in branches
    ]
    owner = branches[0].owner_id
    if owner is None:  # shared tasks only: nobody's counter says anything about them
        return _counted(branches, counts)
    counter = select(TaskCount.owned).where(TaskCount.user_id == owner).scalar_subquery()
    if not conditions and found is None:
        # Unfiltered: the owner's counter, if it exists, instead of counting every row.
        counts[0] = func.coalesce(counter, counts[0])
    elif not conditions and found is not None:
        # Searched only: counted inside the search index where it can be.
        in_index = found.count_owned(owner)
        counts[0] = counts[0] if in_index is None else in_index
    if found is not None and found.chooses_reads:
        # The counter, for the search's page to choose how to read its matches
        # (``scans``): a read by primary key, in the statement that runs anyway.
        return _counted(branches, counts, owned=counter)
    return _counted(branches, counts)


def _counted(
    branches: list[Branch],
    counts: list[ColumnElement[int]],
    owned: ColumnElement[int] | None = None,
) -> list[_Counted]:
    """The branches' counts, and ``owned`` (the owner's counter) if given, in one
    statement, run on the session's connection as the page's rows are (a Core
    statement: the session's ORM execution added nothing but 44 Python calls a page,
    5,329 against 5,285 for a first page in bench/hotpaths.py)."""
    counting = select(*counts) if owned is None else select(*counts, owned)
    row = db.session.connection().execute(counting).one()
    owner_total = row[-1] if owned is not None else None
    return [
        _Counted(branch, count, owner_total if branch.owner_id is not None else None)
        for branch, count in zip(branches, row[: len(branches)], strict=True)
    ]


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


def _page_rows(wheres: list[list[ColumnElement[bool]]], sort: str, window: _Window) -> Subquery:
    """Ids (and sort keys) of one page, read from indexes alone, in no particular order
    (the statement that loads them sorts them).

    Each visibility branch is read in index order and cut at ``offset + limit``; with
    both, the two sorted runs are merged. Rows the page skips are never fetched.
    """
    key = _SORT_COLUMNS[sort.lstrip("-")]
    limit, offset, backwards = window.limit, window.offset, window.backwards

    def branch_rows(where: list[ColumnElement[bool]], cut: int, skip: int = 0) -> Select[Any]:
        return (
            select(Task.id.label("id"), key.label("sort_key"))
            .where(*where)
            .order_by(*_order_by(key, Task.id, sort, backwards=backwards))
            .limit(cut)
            .offset(skip)
        )

    if len(wheres) == 1:
        return branch_rows(wheres[0], limit, offset).subquery()
    runs = [branch_rows(where, offset + limit).subquery() for where in wheres]
    merged = union_all(*(select(run.c.id, run.c.sort_key) for run in runs)).subquery()
    return (
        select(merged.c.id, merged.c.sort_key)
        .order_by(*_order_by(merged.c.sort_key, merged.c.id, sort, backwards=backwards))
        .limit(limit)
        .offset(offset)
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
