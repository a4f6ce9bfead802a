"""Calendar feed routes: the iCalendar feed behind its token, and making or revoking
that token (docs/api.md, Calendar feed)."""

from __future__ import annotations

from doable.api import Blueprint
from doable.calendar_feed import models  # noqa: F401  (the table, before any route uses it)

bp = Blueprint("calendar_feed", __name__, url_prefix="/api/calendar", description="Calendar feed")
