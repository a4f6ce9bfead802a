from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, ClassVar

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from doable.errors import error_data
from doable.schemas import (
    CategoryName,
    PageOf,
    PageQuery,
    ProblemSchema,
    Query,
    Timestamp,
    not_blank,
    timestamp,
)
from doable.settings import settings
from doable.tasks import quick_add, recurrence
from doable.tasks.models import Priority, Status, category_names
from doable.tasks.time_fields import (
    CLOCK_PATTERN,
    DAY_PATTERN,
    LocalTime,
    RecurrenceField,
    Reminders,
    ZoneName,
    clock,
    shown_recurrence,
)

STATUSES = [s.value for s in Status]
PRIORITIES = [p.label for p in Priority]
#: What a bulk action can do to each of its tasks (``tasks.bulk``).
BULK_ACTIONS = ["complete", "reopen", "delete", "add_category", "remove_category"]
#: The bulk actions that name a category, and only they.
BULK_CATEGORY_ACTIONS = frozenset({"add_category", "remove_category"})
SORT_KEYS = ["created_at", "updated_at", "due_date", "priority", "title"]
MAX_CATEGORIES = 20


class PriorityField(fields.String):
    """``low | medium | high`` on the wire, the rank (``Priority``) in the domain."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"enum": PRIORITIES}, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else Priority(value).label

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Priority:  # type: ignore[override]
        label = super()._deserialize(value, attr, data, **kwargs)
        if label not in PRIORITIES:
            raise ValidationError(f"Must be one of: {', '.join(PRIORITIES)}.")
        return Priority.from_label(label)


class _TaskFields(Schema):
    """The writable fields, with the rules both create and update share."""

    title = fields.String(validate=[validate.Length(min=1, max=200), not_blank])
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    status = fields.String(validate=validate.OneOf(STATUSES))
    priority = PriorityField()
    due_date = fields.Date(allow_none=True)
    due_time = LocalTime(
        allow_none=True, metadata={"description": "Local time of day due; needs a due_date"}
    )
    timezone = ZoneName(
        allow_none=True,
        metadata={"description": "IANA zone of due_date and due_time; null: the owner's"},
    )
    recurrence = RecurrenceField(
        allow_none=True, metadata={"description": "An RRULE and its mode; needs a due_date"}
    )
    reminders = Reminders()
    categories = fields.List(
        CategoryName(),
        validate=validate.Length(max=MAX_CATEGORIES),
        metadata={"description": "Category names; ones you have not created yet are created"},
    )

    @post_load
    def _to_model_values(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "description" in data and data["description"] is None:
            data["description"] = ""
        return data


class TaskCreate(_TaskFields):
    title = fields.String(required=True, validate=[validate.Length(min=1, max=200), not_blank])


class TaskUpdate(_TaskFields):
    """Every field optional: PUT and PATCH both change only what is sent."""

    json_schema_rules: ClassVar[dict[str, Any]] = {"minProperties": 1}

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send at least one field to change.", "body")


class OwnerRead(Schema):
    id = fields.Integer()
    username = fields.String()


class TaskRead(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    status = fields.String()
    priority = PriorityField()
    due_date = fields.Date(allow_none=True)
    due_time = LocalTime(allow_none=True)
    timezone = fields.String(allow_none=True)
    due_at = Timestamp(
        allow_none=True,
        metadata={"description": "The instant it is due: due_date at due_time (or 00:00)"},
    )
    recurrence = RecurrenceField(allow_none=True, attribute="recurrence_rule")
    reminders = Reminders()
    categories = fields.Function(category_names)
    owner = fields.Nested(OwnerRead)
    access = fields.String(metadata={"enum": ["owner", "edit", "view"]})
    created_at = Timestamp()
    updated_at = Timestamp()


Q_DESCRIPTION = (
    'Words to find in title and description, whole and ignoring case; `"a phrase"`, '
    "`-excluded`, `or` (see README). Words are runs of letters and digits: a `q` with no "
    "word left to find (only punctuation or emoji such as `!!!`, or only -excluded words) "
    "is refused with 400 and `errors.q`."
)


class TaskListQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))
    priority = PriorityField()
    q = fields.String(
        validate=[validate.Length(min=1, max=200), not_blank],
        metadata={"description": Q_DESCRIPTION},
    )
    due_before = fields.Date(
        metadata={"description": "Due on or before this date (your local date of a timed task)"}
    )
    due_after = fields.Date(
        metadata={"description": "Due on or after this date (your local date of a timed task)"}
    )
    overdue = fields.Boolean(
        truthy={"true"},
        falsy={"false"},
        metadata={"description": "Past due and not completed, reckoned in your time zone"},
    )
    category = CategoryName(
        metadata={"description": "Only tasks with the category of this name (ignoring case)"}
    )
    scope = fields.String(load_default="all", validate=validate.OneOf(["all", "owned", "shared"]))
    sort = fields.String(
        load_default="-created_at",
        validate=validate.OneOf(SORT_KEYS + [f"-{key}" for key in SORT_KEYS]),
    )


class TaskPage(PageOf):
    tasks = fields.List(fields.Nested(TaskRead))


class QuickAddText(Schema):
    text = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=quick_add.MAX_TEXT), not_blank],
        metadata={"example": "Pay rent tomorrow 9am #home !high"},
    )


class QuickPartRead(Schema):
    kind = fields.String(metadata={"enum": ["date", "time", "category", "priority"]})
    text = fields.String(metadata={"description": "The words recognised, as written"})
    start = fields.Integer(metadata={"description": "Where they start in `text` (0-based)"})
    end = fields.Integer(metadata={"description": "Where they end (exclusive)"})
    value = fields.String(
        metadata={"description": "What they mean: `2026-03-12`, `09:00`, a name, a priority"}
    )


class QuickTaskRead(Schema):
    """A ``TaskCreate`` body (``priority`` only when one was recognised) and its parts."""

    sometimes = ("priority",)  # members only some answers have (doable.openapi)
    title = fields.String(metadata={"description": "What was not recognised; may be empty"})
    due_date = fields.Date(allow_none=True)
    due_time = LocalTime(allow_none=True)
    categories = fields.List(fields.String())
    priority = PriorityField()
    parts = fields.List(fields.Nested(QuickPartRead))


def quick_task_data(found: quick_add.QuickTask) -> dict[str, Any]:
    """``QuickTaskRead`` of ``found``: the task ``POST /api/tasks`` would create."""
    data: dict[str, Any] = {
        "title": found.title,
        "due_date": found.due_date,
        "due_time": found.due_time,
        "categories": found.categories,
        "parts": [vars(part) for part in found.parts],
    }
    if found.priority is not None:
        data["priority"] = found.priority
    return data


class TaskBulk(Schema):
    """One action on several tasks (docs/api.md, Bulk actions): the one place its rules
    and their messages live, for the API and the list's bulk form alike
    (``tasks.bulk.apply`` takes what this loaded)."""

    action = fields.String(
        required=True,
        validate=validate.OneOf(BULK_ACTIONS),
        metadata={"description": "What to do to each task"},
    )
    task_ids = fields.List(
        fields.Integer(strict=True),
        required=True,
        metadata={
            "description": "The tasks: 1 to DOABLE_MAX_BULK_TASKS ids (a server setting, "
            "100 by default), repeats counted; a repeat is dropped (the first kept) and "
            "each task is answered in this order",
            "minItems": 1,
        },
    )

    @validates("task_ids")
    def _bounded(self, task_ids: list[int], **kwargs: Any) -> None:
        """The list as sent, repeats counted: a client cannot make the server read more
        than the limit of ids, whatever they are."""
        limit = settings().max_bulk_tasks
        if not task_ids:
            raise ValidationError("Give at least one task id.")
        if len(task_ids) > limit:
            raise ValidationError(f"At most {limit} tasks at once; select fewer.")

    category = CategoryName(
        metadata={
            "description": "The category to add or remove: required by add_category "
            "and remove_category, refused with the other actions"
        }
    )

    @validates_schema
    def _category_for_category_actions(self, data: dict[str, Any], **kwargs: Any) -> None:
        naming = data.get("action") in BULK_CATEGORY_ACTIONS
        if naming and "category" not in data:
            raise ValidationError("Name the category to add or remove.", "category")
        if not naming and "category" in data:
            raise ValidationError("Only add_category and remove_category take one.", "category")


class BulkItem(Schema):
    id = fields.Integer(required=True, metadata={"description": "The task id, as sent"})
    status = fields.Integer(
        required=True,
        metadata={
            "description": "What the task's own route would answer: 200, 204 "
            "(deleted), or the problem's status (400, 403, 404, 409, 412)"
        },
    )
    changed = fields.Boolean(
        required=True, metadata={"description": "false: already so (or refused): nothing written"}
    )
    task = fields.Nested(TaskRead, required=True, allow_none=True)
    problem = fields.Nested(ProblemSchema, required=True, allow_none=True)


class BulkResults(Schema):
    results = fields.List(fields.Nested(BulkItem), required=True)
    succeeded = fields.Integer(required=True, metadata={"description": "Items answered 2xx"})
    failed = fields.Integer(required=True, metadata={"description": "Items refused"})


OCCURRENCE_KEY = rf"^{DAY_PATTERN}(T{CLOCK_PATTERN})?$"


class OccurrenceChoice(Schema):
    """Which occurrence ``complete`` or ``skip`` means: sent, it makes a retry harmless."""

    occurrence = fields.String(
        validate=validate.Regexp(OCCURRENCE_KEY, error="Must be an occurrence key."),
        metadata={
            "description": "The occurrence's key (`2026-03-30`, or `2026-03-30T09:00` with "
            "a due time): one done already answers the task unchanged",
            "pattern": OCCURRENCE_KEY,
        },
    )


class OccurrenceQuery(Query):
    limit = fields.Integer(
        load_default=10, validate=validate.Range(min=1, max=recurrence.MAX_PREVIEW)
    )


class OccurrenceRead(Schema):
    occurrence = fields.String(metadata={"example": "2026-03-30T09:00"})
    local = fields.String(metadata={"example": "2026-03-30T09:00:00"})
    utc = Timestamp()


class OccurrencePage(Schema):
    timezone = fields.String(metadata={"example": "Europe/Berlin"})
    occurrences = fields.List(fields.Nested(OccurrenceRead))


def series_data(series: Any) -> dict[str, Any]:
    """``service.get_series`` for ``OccurrencePage`` to write out."""
    return {
        "timezone": series.timezone,
        "occurrences": [
            {"occurrence": found.key, "local": found.local.isoformat(), "utc": found.utc}
            for found in series.occurrences
        ],
    }


def task_data(task: Any) -> dict[str, Any]:
    """A task as the API shows it to the viewer it was read for (``access``).

    ``TaskRead`` written out: every response that carries tasks (a page, a task, a
    real-time event) builds this, and the schema's generic dump took a third of a
    page's time. ``TaskRead`` stays the documented shape; tests/tasks/test_serialise.py
    holds the two equal, member for member and in order (the body's bytes are its ETag).
    """
    owner = task.owner
    return _shown(task, None if owner is None else {"id": owner.id, "username": owner.username})


def task_row_data(row: Any) -> dict[str, Any]:
    """``task_data`` of a task read as a row (``access.get_task_row_for``)."""
    return _shown(row, {"id": row.user_id, "username": row.owner_username})


def _shown(task: Any, owner: dict[str, Any] | None) -> dict[str, Any]:
    """``TaskRead`` of ``task`` (a ``Task`` or a row of the same names) and its ``owner``."""
    return {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "priority": Priority(task.priority).label,
        "due_date": None if task.due_date is None else task.due_date.isoformat(),
        "due_time": clock(task.due_time),
        "timezone": task.timezone,
        "due_at": timestamp(task.due_at),
        "recurrence": shown_recurrence(task),
        "reminders": list(task.reminders or []),
        "categories": category_names(task),
        "owner": owner,
        "access": task.access,
        "created_at": timestamp(task.created_at),
        "updated_at": timestamp(task.updated_at),
    }


def page_data(page: Any, shown: Callable[[Any], dict[str, Any]] = task_data) -> dict[str, Any]:
    """A page of tasks as ``TaskPage`` shows it, each task built by ``shown``:
    ``task_data`` for ``Task``s, ``task_row_data`` for rows."""
    return {
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
        "tasks": [shown(task) for task in page.tasks],
    }


def page_body(page: Any) -> bytes:
    """The JSON of a page of tasks read as rows (``service.list_task_rows``), as sent:
    the bytes ``jsonify(page_data(page))`` wrote (compact, members in order, a final
    newline), by the encoder built once for task bodies."""
    return (_COMPACT.encode(page_data(page, task_row_data)) + "\n").encode()


def task_body(task: Any) -> bytes:
    """The JSON representation of a task, as sent; its hash is the task's ETag."""
    return _body(task_data(task))


def task_row_body(row: Any) -> bytes:
    """``task_body`` of a task read as a row: the same bytes, so the same ETag."""
    return _body(task_row_data(row))


#: ``json.dumps(..., separators=(",", ":"))`` without building an encoder per body.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _body(data: dict[str, Any]) -> bytes:
    return _COMPACT.encode(data).encode()


def body_etag(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def task_etag(task: Any) -> str:
    """A strong ETag of the representation the caller sees: any change changes it."""
    return body_etag(task_body(task))


def bulk_data(results: list[Any]) -> dict[str, Any]:
    """``BulkResults`` of ``tasks.bulk.apply``'s results: each item as its own route
    would answer it (a problem's status, 204 for a deletion, else 200 and the task)."""
    items = [_bulk_item(result) for result in results]
    failed = sum(1 for item in items if item["problem"] is not None)
    return {"results": items, "succeeded": len(items) - failed, "failed": failed}


def _bulk_item(result: Any) -> dict[str, Any]:
    error = result.error
    deleted = result.outcome.value == "deleted"
    return {
        "id": result.task_id,
        "status": error.status if error is not None else 204 if deleted else 200,
        "changed": result.outcome.value in ("changed", "deleted"),
        "task": None if result.task is None else task_row_data(result.task),
        "problem": None if error is None else error_data(error),
    }
