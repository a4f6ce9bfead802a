"""The one access rule: who may do what to a task.

Every task path (tasks, and later categories, sharing, attachments, real time and the
web pages) loads tasks through ``get_task_for`` or ``visible_tasks``, so "404 when not
visible" and the rights of each access level are decided here and nowhere else.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from sqlalchemy import ColumnElement, Select, false, select

from doable.auth.models import User
from doable.errors import Forbidden, NotFound
from doable.extensions import db
from doable.tasks.models import Task

Scope = Literal["all", "owned", "shared"]
MAX_ID = 2**31 - 1


class Access(IntEnum):
    """Rights in increasing order: each level includes the ones below it."""

    VIEW = 1
    EDIT = 2
    OWNER = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def visible_condition(user: User, scope: Scope = "all") -> ColumnElement[bool]:
    """Rows of ``task`` the user can see, as one SQL condition (no per-row checks)."""
    if scope == "shared":
        return false()
    return Task.user_id == user.id


def access_of(user: User, task: Task) -> Access | None:
    return Access.OWNER if task.user_id == user.id else None


def visible_tasks(user: User, scope: Scope = "all") -> Select[tuple[Task]]:
    return select(Task).where(visible_condition(user, scope))


def get_task_for(user: User, task_id: int, need: Access = Access.VIEW) -> Task:
    """The task if ``user`` has at least ``need`` on it.

    Not visible at all: NotFound, the same answer as for a task that does not exist.
    Visible but not enough: Forbidden.
    """
    task = db.session.get(Task, task_id) if 0 < task_id <= MAX_ID else None
    access = access_of(user, task) if task is not None else None
    if task is None or access is None:
        raise NotFound(f"Task {task_id} not found")
    if access < need:
        raise Forbidden(
            f"Your access to task {task_id} is '{access.label}'; this needs '{need.label}'"
        )
    task.access = access.label
    return task
