"""One action on many tasks (docs/api.md, Bulk actions): each task through the very use
case a single write of it runs, in its own transaction, so one task refused changes
nothing of it and takes nothing from the others.

Each item commits (and announces: change feed, socket events, webhooks) on its own, as
the single writes do; a refused item's unit of work rolls back what it did and drops
what it published before its error is caught here. Only the errors a single write
answers with a problem are caught (and the database ending one item's transaction, a
deadlock or serialisation failure, which its route answers 409): anything else (the
database away, a bug) stops the batch as it would stop that write, the items before it
committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy.exc import DBAPIError

from doable.auth.models import User
from doable.errors import (
    Conflict,
    DoableError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ProblemType,
    ValidationFailed,
    rolled_back_by_database,
)
from doable.tasks import service
from doable.tasks.models import Status
from doable.tasks.schemas import BULK_CATEGORY_ACTIONS

#: The actions that name a category (``category``), and only they.
CATEGORY_ACTIONS = BULK_CATEGORY_ACTIONS
#: The errors a single write answers with a problem, caught per item.
ITEM_ERRORS = (NotFound, Forbidden, Conflict, ValidationFailed, PreconditionFailed)


class Outcome(Enum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # already so: nothing written, nothing announced
    DELETED = "deleted"
    FAILED = "failed"


@dataclass(frozen=True)
class ItemResult:
    """What the action did to one task: ``task`` as it is now (``None`` when deleted or
    refused), or the ``error`` that refused it (nothing of this task changed)."""

    task_id: int
    outcome: Outcome
    task: Any = None
    error: DoableError | None = None


def apply(
    *, user: User, action: str, task_ids: Iterable[int], category: str | None = None
) -> list[ItemResult]:
    """Do ``action`` to each task of ``task_ids`` (duplicates dropped, in order), each
    checked and committed on its own; one ``ItemResult`` per task, in that order.

    The batch is what ``schemas.TaskBulk`` loaded (the API's body, the bulk form's
    fields): that schema is the one place the batch's rules live (a known action, 1 to
    ``DOABLE_MAX_BULK_TASKS`` ids, a category with a category action only)."""
    write = _WRITES[action]
    return [_item(write, user, task_id, category) for task_id in dict.fromkeys(task_ids)]


Write = Callable[[User, int, str | None], Any]


def _item(write: Write, user: User, task_id: int, category: str | None) -> ItemResult:
    try:
        task = write(user, task_id, category)
    except service.NothingToChange:
        return ItemResult(
            task_id, Outcome.UNCHANGED, service.get_task_row(user=user, task_id=task_id)
        )
    except ITEM_ERRORS as error:
        return ItemResult(task_id, Outcome.FAILED, error=error)
    except DBAPIError as error:  # rolled back by its unit of work, as any error is
        if not rolled_back_by_database(error):
            raise
        return ItemResult(task_id, Outcome.FAILED, error=_rolled_back(task_id))
    if task is None:
        return ItemResult(task_id, Outcome.DELETED)
    return ItemResult(task_id, Outcome.CHANGED, task)


def _rolled_back(task_id: int) -> Conflict:
    """What the single routes answer when the database ends their transaction."""
    return Conflict(
        f"Task {task_id} was being changed by another request at the same time; "
        "nothing was changed, retry",
        problem_type=ProblemType.CONCURRENT_UPDATE,
    )


def _complete(user: User, task_id: int, _: str | None) -> Any:
    return service.complete_occurrence(user=user, task_id=task_id)


def _reopen(user: User, task_id: int, _: str | None) -> Any:
    changes = {"status": Status.PENDING.value}  # pending already: NothingToChange
    return service.update_task(user=user, task_id=task_id, changes=changes)


def _delete(user: User, task_id: int, _: str | None) -> None:
    service.delete_task(user=user, task_id=task_id)


def _add_category(user: User, task_id: int, category: str | None) -> Any:
    return service.retag_task(user=user, task_id=task_id, add=category)


def _remove_category(user: User, task_id: int, category: str | None) -> Any:
    return service.retag_task(user=user, task_id=task_id, remove=category)


_WRITES: dict[str, Write] = {
    "complete": _complete,
    "reopen": _reopen,
    "delete": _delete,
    "add_category": _add_category,
    "remove_category": _remove_category,
}
