"""What a client sends to create an API token, and what it reads back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from doable.api_tokens.models import SCOPES
from doable.db import utcnow
from doable.schemas import CATEGORY_NAME_PATTERN, Timestamp, no_control_characters, not_blank


def _unique(scopes: list[str]) -> None:
    if len(set(scopes)) != len(scopes):
        raise ValidationError("Name each scope once.")


def _webhooks_need_events(scopes: list[str]) -> None:
    """A webhook receives its owner's events, tasks and all: a token that may manage
    webhooks may read them anyway, so it must say so."""
    if "webhooks:manage" in scopes and "events:read" not in scopes:
        raise ValidationError(
            "webhooks:manage needs events:read too: a webhook receives your events."
        )


def _in_the_future(moment: datetime) -> None:
    try:
        moment.astimezone(UTC)  # as it is stored
    except OverflowError:
        raise ValidationError("Out of range.") from None
    if moment <= utcnow():
        raise ValidationError("Must be in the future.")


def _scopes(**kwargs: Any) -> fields.List[Any]:
    return fields.List(
        fields.String(validate=validate.OneOf(SCOPES)),
        metadata={
            "description": "What the token may do: each scope lets it call a set of routes "
            "(docs/api.md, API tokens)",
            "uniqueItems": True,
        },
        **kwargs,
    )


class ApiTokenCreate(Schema):
    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=100), not_blank, no_control_characters],
        metadata={
            "description": "Yours, to tell tokens apart (1-100 characters, on one line)",
            "pattern": CATEGORY_NAME_PATTERN,  # a category name's rules, longer
        },
    )
    scopes = _scopes(
        required=True, validate=[validate.Length(min=1), _unique, _webhooks_need_events]
    )
    expires_at = fields.AwareDateTime(
        default_timezone=UTC,  # a moment without an offset is UTC, as every time here
        allow_none=True,
        validate=_in_the_future,
        metadata={"description": "When it stops working (a future moment); none: never"},
    )


class ApiTokenRead(Schema):
    id = fields.Integer()
    name = fields.String()
    scopes = _scopes()
    prefix = fields.String(
        metadata={"description": "The token's first 12 characters, to recognise it by"}
    )
    created_at = Timestamp()
    expires_at = Timestamp(allow_none=True)
    last_used_at = Timestamp(
        allow_none=True,
        metadata={"description": "Its last use, to the minute (updated at most once a minute)"},
    )


class NewApiTokenRead(ApiTokenRead):
    token = fields.String(
        metadata={"description": "The token itself: shown this once, stored only as a hash"}
    )


class ApiTokenList(Schema):
    tokens = fields.List(fields.Nested(ApiTokenRead))
