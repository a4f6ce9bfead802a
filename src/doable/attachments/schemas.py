from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields
from werkzeug.datastructures import FileStorage

from doable.schemas import Timestamp


class FilePart(Upload):
    """A multipart part that carries a file, not a plain form value of the same name."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, FileStorage):
            raise ValidationError("Send a file: a multipart part with a filename.")
        return value


class AttachmentUpload(Schema):
    file = FilePart(required=True, metadata={"description": "The file (multipart field `file`)"})


class AttachmentRead(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String(metadata={"description": "As declared by the uploader"})
    size = fields.Integer()
    sha256 = fields.String()
    created_at = Timestamp()


class AttachmentList(Schema):
    attachments = fields.List(fields.Nested(AttachmentRead))
