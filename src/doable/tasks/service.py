"""Task use cases. Each public function is one transaction; signals go out after commit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from blinker import NamedSignal
from sqlalchemy import ColumnElement, UnaryExpression, func, not_, or_, select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import ETags

from doable import signals
from doable.auth.models import User
from doable.db import utcnow
from doable.errors import Conflict, PreconditionFailed
from doable.extensions import db
from doable.tasks import search
from doable.tasks.access import Access, Scope, access_of, get_task_for, visible_condition
from doable.tasks.models import Priority, Status, Task
from doable.tasks.schemas import task_etag

WRITE_ATTEMPTS = 3


@dataclass(frozen=True)
class Page:
    tasks: list[Task]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page)


def list_tasks(
    *,
    user: User,
    scope: Scope = "all",
    sort: str = "-created_at",
    page: int = 1,
    per_page: int = 10,
    **filters: Any,
) -> Page:
    """One page of the tasks ``user`` can see: two statements whatever the page size."""
    conditions = [visible_condition(user, scope), *_filter_conditions(**filters)]
    order = _order_by(sort)
    offset = (page - 1) * per_page
    # Pick the page's ids from an index alone, then load just those rows.
    page_ids = select(Task.id).where(*conditions).order_by(*order).limit(per_page).offset(offset)
    tasks = list(
        db.session.scalars(
            select(Task).where(Task.id.in_(page_ids.scalar_subquery())).order_by(*order)
        )
    )
    if tasks and len(tasks) < per_page:
        total = offset + len(tasks)  # the last page: no need to count
    else:
        total = db.session.scalar(select(func.count()).select_from(Task).where(*conditions)) or 0
    for task in tasks:
        task.access = _label(user, task)
    return Page(tasks, total, page, per_page)


def get_task(*, user: User, task_id: int) -> Task:
    return get_task_for(user, task_id, Access.VIEW)


def create_task(*, user: User, **fields: Any) -> Task:
    task = Task(user_id=user.id, owner=user, **fields)
    db.session.add(task)
    db.session.commit()
    task.access = Access.OWNER.label
    _notify(signals.task_created, task)
    return task


def update_task(
    *, user: User, task_id: int, changes: dict[str, Any], if_match: ETags | None = None
) -> Task:
    """Apply ``changes``. With ``if_match``, refuse (412) unless the task is unchanged
    since the client read it; two writes racing on one version cannot both win."""
    for _ in range(WRITE_ATTEMPTS):
        task = get_task_for(user, task_id, Access.EDIT)
        _check_precondition(task, if_match)
        for name, value in changes.items():
            setattr(task, name, value)
        task.updated_at = utcnow()
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
            if if_match is not None:
                raise _changed(task_id) from None
            continue  # no precondition: take the newer version and apply the change to it
        _notify(signals.task_updated, task)
        return task
    raise Conflict(f"Task {task_id} kept changing while it was being updated; try again")


def delete_task(*, user: User, task_id: int, if_match: ETags | None = None) -> None:
    task = get_task_for(user, task_id, Access.OWNER)
    _check_precondition(task, if_match)
    audience = _audience(task)
    db.session.delete(task)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise _changed(task_id) from None
    signals.send(signals.task_deleted, task_id=task_id, audience=audience)


def _check_precondition(task: Task, if_match: ETags | None) -> None:
    if if_match is not None and not if_match.contains(task_etag(task)):
        raise _changed(task.id)


def _changed(task_id: int) -> PreconditionFailed:
    return PreconditionFailed(f"Task {task_id} has changed since you read it (If-Match)")


def _label(user: User, task: Task) -> str:
    access = access_of(user, task)
    return access.label if access else Access.VIEW.label


def _audience(task: Task) -> list[int]:
    return [task.user_id]


def _notify(signal: NamedSignal, task: Task) -> None:
    signals.send(signal, task_id=task.id, audience=_audience(task))


def _filter_conditions(
    *,
    status: str | None = None,
    priority: Priority | None = None,
    q: str | None = None,
    due_before: date | None = None,
    due_after: date | None = None,
    overdue: bool | None = None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(Task.status == status)
    if priority is not None:
        conditions.append(Task.priority == int(priority))
    if due_before is not None:
        conditions.append(Task.due_date <= due_before)
    if due_after is not None:
        conditions.append(Task.due_date >= due_after)
    if overdue is not None:
        late = (Task.due_date < datetime.now(UTC).date()) & (Task.status != Status.COMPLETED)
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


def _order_by(sort: str) -> list[UnaryExpression[Any]]:
    """The sort column, then id in the same direction; tasks with no due date go last."""
    descending = sort.startswith("-")
    column = _SORT_COLUMNS[sort.lstrip("-")]
    primary = column.desc() if descending else column.asc()
    if sort.lstrip("-") == "due_date":
        primary = primary.nulls_last()
    return [primary, Task.id.desc() if descending else Task.id.asc()]
