from __future__ import annotations

from marshmallow import Schema, fields, validate

from doable.schemas import UserReference
from doable.sharing.models import Permission
from doable.tasks.schemas import OwnerRead


class ShareCreate(UserReference):
    permission = fields.String(
        required=True, validate=validate.OneOf([p.value for p in Permission])
    )


class ShareRead(Schema):
    task_id = fields.Integer()
    user = fields.Nested(OwnerRead)
    permission = fields.String()


class ShareList(Schema):
    shares = fields.List(fields.Nested(ShareRead))
