from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from doable.categories.schemas import CategoryRead
from doable.changes.models import MAX_SEQ
from doable.changes.service import MAX_EVENTS, MAX_SYNC, SyncCursor
from doable.schemas import PageOf, ProblemSchema, Query, Timestamp
from doable.tasks.schemas import OwnerRead, TaskRead

ACTIONS = [
    "created",
    "updated",
    "deleted",
    "shared",
    "share_updated",
    "unshared",
    "attachment_added",
    "attachment_deleted",
    "category_created",
    "category_updated",
    "category_deleted",
    "webhook_disabled",
    "occurrence_completed",
    "occurrence_skipped",
    "notification_created",
]


class EventQuery(Query):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_SEQ),
        metadata={"description": "The `seq` of the last change you have; 0 for the first"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_EVENTS))


class EntityRead(Schema):
    type = fields.String(
        metadata={"enum": ["task", "attachment", "category", "webhook", "notification"]}
    )
    id = fields.Integer()


class EventRead(Schema):
    #: Only a ``shared`` event, in the new sharee's feed, carries ``task``.
    sometimes = ("task",)

    seq = fields.Integer(metadata={"description": "Its position in your feed: 1, 2, 3…"})
    change_id = fields.Integer(metadata={"description": "The change's id, the same in every feed"})
    at = Timestamp()
    actor = fields.Nested(
        OwnerRead,
        allow_none=True,
        metadata={"description": "Who made it; null once their account is deleted"},
    )
    entity = fields.Nested(EntityRead)
    task_id = fields.Integer(allow_none=True)
    action = fields.String(metadata={"enum": ACTIONS})
    version = fields.Integer(allow_none=True, metadata={"description": "The task's, after it"})
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Raw(allow_none=True)),
        metadata={"description": "Each changed field as `[old, new]`"},
    )
    task = fields.Nested(
        TaskRead,
        metadata={"description": "On `shared`, to the new sharee: the task as they see it"},
    )


class EventPage(Schema):
    events = fields.List(fields.Nested(EventRead))
    next_after = fields.Integer()
    has_more = fields.Boolean()


class SyncCursorField(fields.String):
    """``cursor`` of an answer of ``GET /api/sync`` that has more, given back as is."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "pattern": r"^(all|[0-9]{1,19})\.[0-9]{1,19}\.[0-9]{1,10}$",
            "description": "The `cursor` of the previous answer, to go on with it "
            "(instead of `since`)",
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> SyncCursor:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return SyncCursor.parse(text)
        except ValueError:
            raise ValidationError("Not a cursor this API gave.") from None


class SyncQuery(Query):
    since = fields.Integer(
        validate=validate.Range(min=0, max=MAX_SEQ),
        metadata={"description": "The `next_since` of your last sync; leave out for everything"},
    )
    limit = fields.Integer(
        load_default=500,
        validate=validate.Range(min=1, max=MAX_SYNC),
        metadata={"description": "The most tasks and deleted ids in one answer"},
    )
    cursor = SyncCursorField()

    @validates_schema
    def _one_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "since" in data and "cursor" in data:
            raise ValidationError("Give since or cursor, not both.", "cursor")


class SyncRead(Schema):
    tasks = fields.List(
        fields.Nested(TaskRead),
        metadata={"description": "Tasks changed (or, first, every task), as you see them now"},
    )
    deleted = fields.List(
        fields.Integer(),
        metadata={"description": "Ids of tasks changed that went or you can no longer see"},
    )
    categories = fields.List(
        fields.Nested(CategoryRead),
        metadata={"description": "Your categories changed (or, first, all of them), as they are"},
    )
    deleted_categories = fields.List(
        fields.Integer(), metadata={"description": "Ids of your categories deleted"}
    )
    next_since = fields.Integer(
        metadata={"description": "Your next `since`, once `has_more` is false"}
    )
    has_more = fields.Boolean(metadata={"description": "Go on with `cursor` for the rest"})
    cursor = fields.String(allow_none=True)


class HistoryEntryRead(EventRead):
    """A change as a task's history shows it: an event without a place in a feed."""

    class Meta:
        exclude = ("seq", "task")


class HistoryPage(PageOf):
    changes = fields.List(fields.Nested(HistoryEntryRead))


class FeedPositionGone(ProblemSchema):
    """The 410 of a position no longer held (``feed-position-gone``): where the feed
    stands, so the client knows what it can still ask for."""

    oldest_seq = fields.Integer(
        required=True, metadata={"description": "The oldest `seq` still held"}
    )
    last_seq = fields.Integer(required=True, metadata={"description": "Your feed's last `seq`"})
