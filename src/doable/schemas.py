"""Schema pieces shared by every domain."""

from __future__ import annotations

from marshmallow import Schema, fields

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Timestamp(fields.DateTime):
    """ISO 8601 UTC with a ``Z``, as SPEC §2 shows: ``2026-01-05T10:30:00Z``."""

    def __init__(self, **kwargs):
        super().__init__(format=TIMESTAMP_FORMAT, **kwargs)


class ProblemSchema(Schema):
    """RFC 9457 Problem Details, the body of every error response."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Not Found"})
    status = fields.Integer(metadata={"example": 404})
    detail = fields.String(metadata={"example": "Task 7 not found"})
    request_id = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation errors: each bad field with its messages"},
    )
