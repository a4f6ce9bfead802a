from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from doable.sharing.models import Permission
from doable.tasks.schemas import OwnerRead


class ShareCreate(Schema):
    username = fields.String(validate=validate.Length(min=1, max=254))
    email = fields.String(validate=validate.Length(min=1, max=254))
    permission = fields.String(
        required=True, validate=validate.OneOf([p.value for p in Permission])
    )

    @validates_schema
    def _one_user(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [key for key in ("username", "email") if key in data]
        if len(given) != 1:
            message = "Send exactly one of username or email."
            raise ValidationError({"username": [message], "email": [message]})


class ShareRead(Schema):
    task_id = fields.Integer()
    user = fields.Nested(OwnerRead)
    permission = fields.String()


class ShareList(Schema):
    shares = fields.List(fields.Nested(ShareRead))
