"""Schema pieces shared by every domain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class FullMatch(validate.Regexp):
    """A pattern the whole value must match. Plain ``Regexp`` uses ``re.match``, where
    ``$`` also matches before a trailing newline, so ``"alice\\n"`` would pass."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def no_control_characters(value: str) -> None:
    """For names shown on one line (categories): no tabs, newlines or other controls."""
    if any(not ch.isprintable() and ch != " " for ch in value):
        raise ValidationError("Must not contain control characters.")


#: A category name, wherever one is given (categories API, a task's categories).
CATEGORY_NAME: list[Any] = [validate.Length(min=1, max=50), not_blank, no_control_characters]


class Timestamp(fields.DateTime):
    """ISO 8601 UTC with a ``Z``, as SPEC §2 shows: ``2026-01-05T10:30:00Z``.

    The format is applied when serialising rather than passed as ``format=``, so the
    OpenAPI document still calls it a plain ``date-time``.
    """

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


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


class UserReference(Schema):
    """Names a user by exactly one of ``username`` or ``email`` (matched ignoring case)."""

    username = fields.String(validate=validate.Length(min=1, max=254))
    email = fields.String(validate=validate.Length(min=1, max=254))

    @validates_schema
    def _exactly_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("username" in data) == ("email" in data):
            message = "Send exactly one of username or email."
            raise ValidationError({"username": [message], "email": [message]})
