"""The list's bulk form (tasks/_bulk.html) as ``tasks.bulk.apply``'s arguments, the
delete confirmation it asks for, and the sentence that says what happened."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import render_template
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from doable.auth.models import User
from doable.errors import DoableError, NotFound
from doable.tasks import service
from doable.tasks.bulk import CATEGORY_ACTIONS, ItemResult, Outcome
from doable.tasks.schemas import TaskBulk
from doable.web.forms import ConfirmForm
from doable.web.session import safe_next

NOTHING_CHOSEN = "Select the tasks first: tick the box of each one."
CATEGORY_TYPED = (
    "A category is typed: press “Add category” or “Remove category”, "
    "or clear the category field first."
)
NOT_TASKS = "The selection names something that is not a task."
#: Failures a summary names one by one; the rest are counted.
NAMED_FAILURES = 3
#: A task id as a box sends it: ASCII digits only (``str.isdigit`` takes "²", which
#: ``int`` refuses), and no more than an id can have.
_ID = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class Chosen:
    """What the form asks: ``problem`` says why it cannot be done (nothing is)."""

    action: str = ""
    task_ids: list[int] = field(default_factory=list)
    category: str | None = None
    next: str | None = None
    confirmed: bool = False
    problem: str | None = None

    @classmethod
    def read(cls, form: MultiDict[str, str]) -> Chosen:
        action = form.get("action", "")
        typed = form.get("category", "").strip()
        values = form.getlist("task_ids")
        back = safe_next(form.get("next"))
        if not values:
            return cls(action, next=back, problem=NOTHING_CHOSEN)
        if not all(_ID.fullmatch(value) for value in values):
            return cls(action, next=back, problem=NOT_TASKS)
        given: dict[str, Any] = {"action": action, "task_ids": [int(v) for v in values]}
        if typed:
            given["category"] = typed
        try:
            data = TaskBulk().load(given)
        except ValidationError as invalid:
            messages = invalid.messages if isinstance(invalid.messages, dict) else {}
            return cls(action, next=back, problem=_problem(messages, action))
        confirmed = form.get("confirmed") == "yes"
        return cls(action, data["task_ids"], data.get("category"), back, confirmed)


def _problem(messages: dict[str, Any], action: str) -> str:
    if "category" in messages and action in _DONE and action not in CATEGORY_ACTIONS:
        return CATEGORY_TYPED
    if "category" in messages and "action" not in messages:
        return "Category: " + " ".join(_texts(messages["category"]))
    if "task_ids" in messages:
        return " ".join(_texts(messages["task_ids"]))
    return "Choose one of the actions."


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for inner in value.values() for text in _texts(inner)]
    if isinstance(value, list):
        return [text for inner in value for text in _texts(inner)]
    return [str(value)]


def confirm_delete(user: User, chosen: Chosen, back: str) -> str:
    """The page that asks before a deletion, naming the tasks (read in one statement),
    the form carrying them."""
    visible = service.visible_task_rows(user=user, task_ids=chosen.task_ids)
    shown = [_described(task_id, visible.get(task_id)) for task_id in chosen.task_ids]
    count = len(shown)
    return render_template(
        "tasks/bulk_confirm.html",
        form=ConfirmForm(),
        question=f"Delete {count} task{'' if count == 1 else 's'}?",
        consequence="Their attachments go with them. This cannot be undone.",
        button="Delete tasks",
        cancel=back,
        shown=shown,
        chosen=chosen,
    )


def _described(task_id: int, task: Any) -> str:
    if task is None:
        return f"Task {task_id}: not one you can see (it will not be deleted)"
    if task.access != "owner":
        return f"“{task.title}”: shared with you, only its owner can delete it"
    return f"“{task.title}”"


_DONE = {
    "complete": ("completed", "already completed"),
    "reopen": ("reopened", "already open"),
    "delete": ("deleted", ""),
    "add_category": ("given “{}”", "already had “{}”"),
    "remove_category": ("taken out of “{}”", "did not have “{}”"),
}


def summary(user: User, chosen: Chosen, results: list[ItemResult]) -> tuple[str, str]:
    """The flash message and its kind: "3 tasks completed; 1 could not be: you can only
    view “X”." """
    done, already = (text.format(chosen.category) for text in _DONE[chosen.action])
    changed = sum(1 for r in results if r.outcome in (Outcome.CHANGED, Outcome.DELETED))
    unchanged = sum(1 for r in results if r.outcome is Outcome.UNCHANGED)
    failed = [r for r in results if r.error is not None]
    parts = [f"{changed} task{'' if changed == 1 else 's'} {done}"]
    if unchanged:
        parts.append(f"{unchanged} {already}")
    if failed:
        reasons = [_reason(user, r.task_id, r.error) for r in failed[:NAMED_FAILURES] if r.error]
        more = len(failed) - NAMED_FAILURES
        tail = f"; and {more} more" if more > 0 else ""
        parts.append(f"{len(failed)} could not be: {'; '.join(reasons)}{tail}")
    return "; ".join(parts) + ".", "error" if failed else "success"


def _reason(user: User, task_id: int, error: DoableError) -> str:
    if isinstance(error, NotFound):
        return f"task {task_id} is not one you can see"
    try:
        task = service.get_task_row(user=user, task_id=task_id)
    except DoableError:
        return error.detail or "refused"
    if error.status == 403 and task.access == "view":
        return f"you can only view “{task.title}”"
    if error.status == 403:
        return f"only the owner can delete “{task.title}”"
    return f"“{task.title}”: {error.detail}"
