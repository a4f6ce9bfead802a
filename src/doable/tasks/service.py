"""Task use cases. Each public function is one transaction; signals go out after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    UnaryExpression,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import ETags

from doable import signals
from doable.auth.models import User
from doable.categories.models import Category, task_category
from doable.categories.service import resolve_categories
from doable.db import Paged, use_case, utcnow
from doable.errors import Conflict, PreconditionFailed, ProblemType
from doable.extensions import db
from doable.tasks import search
from doable.tasks.access import (
    READ_TASK,
    Access,
    Scope,
    audience,
    get_task_for,
    viewer,
    visible_branches,
)
from doable.tasks.events import notify_updated
from doable.tasks.models import Priority, Task, TaskCount, remember_category_names
from doable.tasks.schemas import task_etag

WRITE_ATTEMPTS = 3


@dataclass(frozen=True, kw_only=True)
class Page(Paged):
    tasks: list[Task]


def list_tasks(
    *,
    user: User,
    scope: Scope = "all",
    sort: str = "-created_at",
    page: int = 1,
    per_page: int = 10,
    **filters: Any,
) -> Page:
    """One page of the tasks ``user`` can see: at most three statements, whatever the
    page size (counts, the page's rows with their owners, their categories)."""
    conditions = _filter_conditions(**filters)
    counts = _count_visible(user, scope, conditions)
    total = sum(count for _, count in counts)
    offset = (page - 1) * per_page
    tasks: list[Task] = []
    if offset < total:
        branches = [condition for condition, count in counts if count]
        rows = _page_rows(branches, conditions, sort, per_page, offset)
        query = (
            select(Task)
            .join(rows, Task.id == rows.c.id)
            .order_by(*_order_by(rows.c.sort_key, rows.c.id, sort))
            .options(*READ_TASK)
        )
        tasks = list(db.session.scalars(query, viewer(user)))
    return Page(tasks=tasks, total=total, page=page, per_page=per_page)


def get_task(*, user: User, task_id: int) -> Task:
    return get_task_for(user, task_id, Access.VIEW)


@use_case
def create_task(*, user: User, categories: list[str] | None = None, **fields: Any) -> Task:
    """Create a task owned by ``user``; category names it has not created yet are created."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            task = Task(user_id=user.id, owner=user, **fields)
            task.categories = resolve_categories(owner_id=user.id, names=categories or [])
            db.session.add(task)
            _count_created(user.id)
            db.session.commit()
            break
        except IntegrityError:  # a concurrent request created one of the categories
            db.session.rollback()
            if attempt == WRITE_ATTEMPTS:
                raise
    set_committed_value(task, "access", Access.OWNER.label)
    remember_category_names(task, task.categories)
    signals.send(signals.task_created, task_id=task.id, audience=[user.id])
    return task


@use_case
def update_task(
    *, user: User, task_id: int, changes: dict[str, Any], if_match: ETags | None = None
) -> Task:
    """Apply ``changes``. With ``if_match``, refuse (412) unless the task is unchanged
    since the client read it; two writes racing on one version cannot both win.
    Without it, the last writer wins: concurrent writers take turns on the task's lock,
    so each one succeeds (200) on top of the previous one's version."""
    fields = dict(changes)
    names = fields.pop("categories", None)
    for _ in range(WRITE_ATTEMPTS):
        task = get_task_for(user, task_id, Access.EDIT, for_update=True)
        access, names_before = task.access, task.category_names
        _check_precondition(task, if_match)
        try:
            for name, value in fields.items():
                setattr(task, name, value)
            if names is not None:  # the task's categories are its owner's, whoever edits it
                task.categories = resolve_categories(owner_id=task.user_id, names=names)
            task.updated_at = utcnow()
            db.session.commit()
        except (StaleDataError, IntegrityError):
            db.session.rollback()
            if if_match is not None:
                raise _changed(task_id) from None
            continue  # no precondition: take the newer version and apply the change to it
        # A flush resets query expressions: put back what this write did not change,
        # as loaded values (assigning them would make the task dirty again).
        set_committed_value(task, "access", access)
        if names is None:
            set_committed_value(task, "category_names", names_before)
        else:
            remember_category_names(task, task.categories)
        notify_updated([task.id])
        return task
    raise Conflict(
        f"Task {task_id} kept changing while it was being updated; try again",
        problem_type=ProblemType.CONCURRENT_UPDATE,
    )


def delete_task(*, user: User, task_id: int, if_match: ETags | None = None) -> None:
    """Delete the task; with ``if_match``, only if unchanged since the client read it.
    It waits for a concurrent write of the task to commit, then deletes what it wrote."""
    task = get_task_for(user, task_id, Access.OWNER, for_update=True)
    _check_precondition(task, if_match)
    watchers = audience([task_id])[task_id]
    signals.send(signals.task_deleting, task_ids=[task_id])
    db.session.delete(task)
    _count(task.user_id, -1)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise _changed(task_id) from None
    signals.send(signals.task_deleted, task_id=task_id, audience=watchers)


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


def _count(user_id: int, delta: int) -> int:
    """Move the user's counter by ``delta``; return how many counters changed (0 or 1)."""
    result = db.session.execute(
        update(TaskCount).where(TaskCount.user_id == user_id).values(owned=TaskCount.owned + delta)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _check_precondition(task: Task, if_match: ETags | None) -> None:
    if if_match is not None and not if_match.contains(task_etag(task)):
        raise _changed(task.id)


def _changed(task_id: int) -> PreconditionFailed:
    return PreconditionFailed(f"Task {task_id} has changed since you read it (If-Match)")


def _filter_conditions(
    *,
    status: str | None = None,
    priority: Priority | None = None,
    q: str | None = None,
    due_before: date | None = None,
    due_after: date | None = None,
    overdue: bool | None = None,
    category: str | None = None,
) -> list[ColumnElement[bool]]:
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
    if q is not None:
        conditions.append(search.matches(q, db.session.get_bind().dialect.name))
    return conditions


_SORT_COLUMNS: dict[str, Any] = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "due_date": Task.due_date,
    "priority": Task.priority,
    "title": func.lower(Task.title),
}


def _count_visible(
    user: User, scope: Scope, conditions: list[ColumnElement[bool]]
) -> list[tuple[ColumnElement[bool], int]]:
    """Matching tasks per visibility branch (owned, shared), counted in one statement."""
    branches = visible_branches(user, scope)
    counts: list[ColumnElement[int]] = [
        select(func.count()).select_from(Task).where(branch, *conditions).scalar_subquery()
        for branch in branches
    ]
    if scope != "shared" and not conditions:
        # Unfiltered: the owner's counter, if it exists, instead of counting every row.
        counter = select(TaskCount.owned).where(TaskCount.user_id == user.id)
        counts[0] = func.coalesce(counter.scalar_subquery(), counts[0])
    row = db.session.execute(select(*counts)).one()
    return list(zip(branches, row, strict=True))


def _page_rows(
    branches: list[ColumnElement[bool]],
    conditions: list[ColumnElement[bool]],
    sort: str,
    limit: int,
    offset: int,
) -> Subquery:
    """Ids (and sort keys) of one page, read from indexes alone.

    Each visibility branch is read in index order and cut at ``offset + limit``; with
    both, the two sorted runs are merged. Rows the page skips are never fetched.
    """
    key = _SORT_COLUMNS[sort.lstrip("-")]

    def branch_rows(branch: ColumnElement[bool], cut: int, skip: int = 0) -> Select[Any]:
        return (
            select(Task.id.label("id"), key.label("sort_key"))
            .where(branch, *conditions)
            .order_by(*_order_by(key, Task.id, sort))
            .limit(cut)
            .offset(skip)
        )

    if len(branches) == 1:
        return branch_rows(branches[0], limit, offset).subquery()
    runs = [branch_rows(branch, offset + limit).subquery() for branch in branches]
    merged = union_all(*(select(run.c.id, run.c.sort_key) for run in runs)).subquery()
    return (
        select(merged.c.id, merged.c.sort_key)
        .order_by(*_order_by(merged.c.sort_key, merged.c.id, sort))
        .limit(limit)
        .offset(offset)
        .subquery()
    )


def _order_by(key: Any, id_column: Any, sort: str) -> list[UnaryExpression[Any]]:
    """The sort key, then id in the same direction; tasks with no due date go last."""
    descending = sort.startswith("-")
    primary = key.desc() if descending else key.asc()
    if sort.lstrip("-") == "due_date":
        primary = primary.nulls_last()
    return [primary, id_column.desc() if descending else id_column.asc()]
