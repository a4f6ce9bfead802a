"""The one access rule: who may do what to a task.

- the owner may do everything;
- a user the task is shared with ``edit`` may read and change it and its attachments;
- a user it is shared with ``view`` may read it and its attachments;
- anyone else gets 404: the same answer as for a task that does not exist.

Every task path (tasks, categories, sharing, attachments, real time, web pages) loads
tasks through ``get_task_for`` (``get_task_row_for`` where a row will do) or filters
them with ``visible_branches``, and the caller's right is computed in SQL by
``_ACCESS``; nothing else decides, and ``_allowed`` alone turns it into 404 or 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Integer, Row, bindparam, case, literal, select
from sqlalchemy.orm import Session, with_expression

from doable.auth.models import User
from doable.db import begin_write, valid_id
from doable.errors import Forbidden, NotFound, ProblemType
from doable.extensions import db
from doable.sharing.models import Share
from doable.tasks.models import CATEGORY_NAMES, WITH_CATEGORY_NAMES, Task

Scope = Literal["all", "owned", "shared"]


class Access(IntEnum):
    """Rights in increasing order: each level includes the ones below it."""

    VIEW = 1
    EDIT = 2
    OWNER = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Access:
        return cls[label.upper()]


# The caller's id, bound: statements built once name it, and each request binds it.
VIEWER = bindparam("viewer_id", type_=Integer)


@dataclass(frozen=True)
class Branch:
    """Rows of ``task`` the viewer (``VIEWER``) sees for one reason, as an SQL condition
    built once; ``owned`` when they are all the viewer's own (so an index that starts
    with the owner can be used)."""

    condition: ColumnElement[bool]
    owned: bool = False


_OWNED = Branch(Task.user_id == VIEWER, owned=True)
_SHARED = Branch(Task.id.in_(select(Share.task_id).where(Share.user_id == VIEWER)))


def visible_branches(scope: Scope = "all") -> list[Branch]:
    """The rows of ``task`` the viewer can see in ``scope`` (no per-row checks): owned
    first, then shared. They never overlap, since nobody can share a task with its
    owner, so their counts add up and their rows can be merged. A statement using
    them takes the viewer's id (``viewer``)."""
    branches = []
    if scope in ("all", "owned"):
        branches.append(_OWNED)
    if scope in ("all", "shared"):
        branches.append(_SHARED)
    return branches


# The caller's right on each row of ``task``: 'owner', 'edit', 'view' or NULL. Built
# once with a bound parameter, so each request only binds the caller's id.
_ACCESS = case(
    (Task.user_id == VIEWER, literal("owner")),
    else_=select(Share.permission)
    .where(Share.task_id == Task.id, Share.user_id == VIEWER)
    .scalar_subquery(),
)
#: The viewer's time zone (``Task.viewer_zone``, their "overdue").
_VIEWER_ZONE = select(User.timezone).where(User.id == VIEWER).scalar_subquery()
#: Loader options for reading tasks as a viewer: their access, category names and zone.
READ_TASK = (
    with_expression(Task.access, _ACCESS),
    WITH_CATEGORY_NAMES,
    with_expression(Task.viewer_zone, _VIEWER_ZONE),
)
_GET_TASK = (
    select(Task)
    .where(Task.id == bindparam("task_id", type_=Integer))
    .options(*READ_TASK)
    .execution_options(populate_existing=True)
)
#: Tasks as ``READ_TASK`` reads them for a viewer, one row each rather than a ``Task``:
#: the columns the API shows (``task_row_body``), named as ``Task`` names them, with
#: ``access``, ``category_names`` and the owner's ``owner_username``; and its
#: ``version``, which a write checks (``service._write_fields``). Built once; a reader
#: adds which tasks (``_GET_TASK_ROW``, a page: ``service.list_task_rows``).
TASK_ROWS = select(
    Task.id,
    Task.title,
    Task.description,
    Task.status,
    Task.priority,
    Task.due_date,
    Task.user_id,
    User.username.label("owner_username"),
    _ACCESS.label("access"),
    CATEGORY_NAMES.label("category_names"),
    Task.created_at,
    Task.updated_at,
    Task.version,
    Task.due_time,
    Task.timezone,
    Task.due_at,
    Task.recurrence_rule,
    Task.recurrence_mode,
    Task.recurrence_anchor,
    Task.reminders,
    User.timezone.label("owner_timezone"),
).join(User, User.id == Task.user_id)
_GET_TASK_ROW = TASK_ROWS.where(Task.id == bindparam("task_id", type_=Integer))

#: The task's id if the viewer has one of ``labels`` on it, locking its row (PostgreSQL:
#: ``FOR NO KEY UPDATE``, as ``begin_write``; SQLite has no row locks and ignores it).
_LOCK_TASK = (
    select(Task.id)
    .where(
        Task.id == bindparam("task_id", type_=Integer),
        _ACCESS.in_(bindparam("labels", expanding=True)),
    )
    .with_for_update(of=Task, key_share=True)
)

#: The task's row, for ``begin_write`` (built once: building it took longer than a
#: write's ``BEGIN IMMEDIATE`` on SQLite, which does not even read it).
_TASK_ROW = select(Task.id).where(Task.id == bindparam("task_id", type_=Integer))


def viewer(user: User) -> dict[str, int]:
    """The parameters a statement using ``READ_TASK`` needs."""
    return {"viewer_id": user.id}


def get_task_for(
    *, user: User, task_id: int, need: Access = Access.VIEW, for_update: bool = False
) -> Task:
    """The task if ``user`` has at least ``need`` on it.

    Not visible at all: NotFound, the same answer as for a task that does not exist.
    Visible but not enough: Forbidden. ``for_update``: the caller is about to change
    it, so concurrent writers of the task wait for each other's commit here
    (``begin_write``) and each reads the version the previous one wrote.
    """
    if for_update:
        _lock_if_allowed(user, task_id, need)
    return _checked(user, task_id, need)  # after the lock: as the previous writer left it


def _lock_if_allowed(user: User, task_id: int, need: Access) -> None:
    """Take the task's write lock if ``user`` has ``need`` on it, else raise as
    ``_checked`` does: only a caller allowed takes it, so a stranger's request never
    waits for another's lock nor makes anyone wait for its own.

    One statement finds whether the caller is allowed and, on PostgreSQL, locks the row
    (a row the access condition leaves out is never locked); SQLite then takes its
    write lock (``begin_write``). The task is read after that, in a statement of its
    own: one that waited for the lock sees what the previous writer committed, in the
    task and in the tables the read joins (categories, shares).

    Run on the session's connection, as ``get_task_row_for``: through the session,
    this statement alone was a third of a PUT's service time under cProfile, most of
    it the ORM's handling of a statement that loads no object."""
    allowed = None
    if valid_id(task_id):
        need_at_least = [access.label for access in Access if access >= need]
        params = {"task_id": task_id, **viewer(user), "labels": need_at_least}
        allowed = db.session.connection().execute(_LOCK_TASK, params).scalar()
    if allowed is None:
        _checked(user, task_id, need)  # raises NotFound or Forbidden, locking nothing
    if allowed is None or db.session.get_bind().dialect.name == "sqlite":
        # SQLite, or PostgreSQL when access was granted after the statement above.
        begin_write(db.session, _TASK_ROW, {"task_id": task_id})


def task_or_guard(
    *, user: User, task_id: int | None = None, task: Task | None = None, need: Access
) -> Task:
    """``task`` if the caller already read it as ``user`` (``get_task_for``) with at
    least ``need`` (a page showing it runs the guard once); else ``get_task_for``."""
    if task is not None and task.access is not None and Access.from_label(task.access) >= need:
        return task
    return get_task_for(user=user, task_id=task.id if task else task_id or 0, need=need)


def get_task_row_for(
    *, user: User, task_id: int, need: Access = Access.VIEW, for_update: bool = False
) -> Row[Any]:
    """``get_task_for`` as one row (``_GET_TASK_ROW``), for a caller that only shows the
    task or writes it with Core statements: the same statements and the same answers,
    without building a ``Task``. ``for_update`` as for ``get_task_for``.

    Run on the session's connection, not through the session, whose ORM execution
    of the same statement took half as long again (151 against 101 µs a read, on
    SQLite, in-process); so nothing pending in the session is flushed first: what is
    read is the database's."""
    if for_update:
        _lock_if_allowed(user, task_id, need)
    row = None
    if valid_id(task_id):
        params = {"task_id": task_id, **viewer(user)}
        row = db.session.connection().execute(_GET_TASK_ROW, params).one_or_none()
    return _allowed(row, task_id, need)


def _checked(user: User, task_id: int, need: Access) -> Task:
    task = None
    if valid_id(task_id):
        params = {"task_id": task_id, **viewer(user)}
        task = db.session.scalars(_GET_TASK, params).one_or_none()
    return _allowed(task, task_id, need)


_Read = TypeVar("_Read", Task, Row[Any])


def _allowed(read: _Read | None, task_id: int, need: Access) -> _Read:
    """``read`` (the task read as its viewer sees it, ``None`` if it does not exist) if
    the viewer has ``need`` on it; else NotFound or Forbidden. The one place that
    decides both, whichever way the task was read."""
    if read is None or read.access is None:
        raise NotFound(f"Task {task_id} not found", problem_type=ProblemType.TASK_NOT_FOUND)
    access = Access.from_label(read.access)
    if access < need:
        raise Forbidden(
            f"Your access to task {task_id} is '{access.label}'; this needs '{need.label}'",
            problem_type=ProblemType.INSUFFICIENT_ACCESS,
        )
    return read


def read_tasks_as(session: Session, viewer_id: int, task_ids: Iterable[int]) -> list[Task]:
    """The tasks of ``task_ids`` that ``viewer_id`` can see now, read as they see them.

    For readers outside a request (the real-time notifier), on their own ``session`` so
    the objects a request is about to serialise keep their own viewer's ``access``.
    """
    query = (
        select(Task)
        .where(Task.id.in_(list(task_ids)))
        .options(*READ_TASK)
        .order_by(Task.id)
        .execution_options(populate_existing=True)
    )
    tasks = session.scalars(query, {"viewer_id": viewer_id}).all()
    return [task for task in tasks if task.access is not None]


def access_levels(task_ids: Iterable[int]) -> dict[int, dict[int, Access]]:
    """For each task, every user who can see it and their right (owner first)."""
    ids = list(task_ids)
    session = db.session()
    levels: dict[int, dict[int, Access]] = {}
    if not ids:
        return levels
    for task_id, owner_id in session.execute(select(Task.id, Task.user_id).where(Task.id.in_(ids))):
        levels[task_id] = {owner_id: Access.OWNER}
    shares = (
        select(Share.task_id, Share.user_id, Share.permission)
        .where(Share.task_id.in_(ids))
        .order_by(Share.user_id)
    )
    for task_id, user_id, permission in session.execute(shares):
        levels[task_id][user_id] = Access.from_label(permission)
    return levels


def audience(task: Task) -> list[int]:
    """The ids of the users who can see ``task``, read as it is: its owner, then the
    users it is shared with by id (as ``access_levels`` orders them)."""
    sharees = select(Share.user_id).where(Share.task_id == task.id).order_by(Share.user_id)
    return [task.user_id, *db.session.scalars(sharees)]


def sharees_of_tasks_owned_by(owner_id: int) -> dict[int, list[int]]:
    """For each task of ``owner_id`` shared with anyone, who it is shared with."""
    shares = (
        select(Share.task_id, Share.user_id)
        .join(Task, Task.id == Share.task_id)
        .where(Task.user_id == owner_id)
        .order_by(Share.task_id, Share.user_id)
    )
    sharees: dict[int, list[int]] = {}
    for task_id, user_id in db.session.execute(shares):
        sharees.setdefault(task_id, []).append(user_id)
    return sharees
