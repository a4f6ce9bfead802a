"""What the notification routes read and answer."""

from __future__ import annotations

from marshmallow import Schema, fields

from doable.reminders.models import KINDS
from doable.schemas import PageOf, PageQuery, Timestamp


class NotificationRead(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(KINDS)})
    task_id = fields.Integer(allow_none=True, metadata={"description": "The task it is about"})
    title = fields.String()
    body = fields.String()
    data = fields.Dict(
        metadata={
            "description": "What a client needs to show it: the occurrence, its times, "
            "the tasks a digest or missed notice names"
        }
    )
    created_at = Timestamp()
    read_at = Timestamp(allow_none=True, metadata={"description": "null: unread"})


class NotificationListQuery(PageQuery):
    unread = fields.Boolean(
        truthy={"true"}, falsy={"false"}, metadata={"description": "Only the unread (or read)"}
    )


class NotificationPage(PageOf):
    notifications = fields.List(fields.Nested(NotificationRead))
    unread = fields.Integer(metadata={"description": "How many of yours are unread, in all"})


class MarkedRead(Schema):
    unread = fields.Integer(metadata={"description": "How many of yours are still unread"})
