from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from doable.schemas import Timestamp


class AttachmentUpload(Schema):
    file = Upload(required=True, metadata={"description": "The file (multipart field `file`)"})


class AttachmentRead(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String(metadata={"description": "As declared by the uploader"})
    size = fields.Integer()
    sha256 = fields.String()
    created_at = Timestamp()


class AttachmentList(Schema):
    attachments = fields.List(fields.Nested(AttachmentRead))
