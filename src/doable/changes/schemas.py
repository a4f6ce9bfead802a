from __future__ import annotations

from marshmallow import Schema, fields, validate

from doable.changes.service import MAX_EVENTS
from doable.schemas import Query, Timestamp
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
]


class EventQuery(Query):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=2**62),
        metadata={"description": "The `seq` of the last change you have; 0 for the first"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_EVENTS))


class EntityRead(Schema):
    type = fields.String(metadata={"enum": ["task", "attachment", "category"]})
    id = fields.Integer()


class EventRead(Schema):
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
