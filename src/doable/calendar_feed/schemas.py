"""What the calendar feed routes answer: the feed's metadata, and once, its URL."""

from __future__ import annotations

from marshmallow import Schema, fields

from doable.schemas import Timestamp


class CalendarFeedRead(Schema):
    prefix = fields.String(
        metadata={"description": "The token's first 13 characters (`dcal_` and 8 more)"}
    )
    created_at = Timestamp()
    last_used_at = Timestamp(
        allow_none=True,
        metadata={"description": "When a calendar last fetched it, to the minute (or null)"},
    )


class NewCalendarFeedRead(CalendarFeedRead):
    url = fields.String(
        metadata={
            "description": "The feed's address, to subscribe to in a calendar app: shown "
            "this once (the token in it is stored only as a hash)"
        }
    )
    token = fields.String(metadata={"description": "The token in the URL, shown this once"})
