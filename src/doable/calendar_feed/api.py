"""Calendar feed routes: the iCalendar feed behind its token, and making or revoking
that token (docs/api.md, Calendar feed). Making, reading and revoking take a login's
access token only, as API tokens do: a script's token cannot mint a feed URL."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, request
from werkzeug.http import is_resource_modified

from doable.api import IF_NONE_MATCH, Blueprint
from doable.api.auth import auth_required, current_user
from doable.calendar_feed import ical, service
from doable.calendar_feed.links import feed_links, feed_url
from doable.calendar_feed.schemas import CalendarFeedRead, NewCalendarFeedRead
from doable.extensions import limiter
from doable.settings import settings

bp = Blueprint("calendar_feed", __name__, url_prefix="/api/calendar", description="Calendar feed")
ICS_TYPE = "text/calendar; charset=utf-8"
#: Polls are revalidated (``ETag``, 304) and kept by nobody but the calendar app.
CACHE_CONTROL = "private, no-cache"
_FEED_RESPONSE = {
    "description": "The feed (RFC 5545): a VEVENT per task you can see that has a due "
    "date and is not completed",
    "content": {"text/calendar": {"schema": {"type": "string"}}},
    "headers": {
        "ETag": {
            "description": "A weak ETag: the digest of the tasks shown",
            "schema": {"type": "string"},
        }
    },
}


def _feed_rate_limit() -> str:
    return settings().api_rate_limit


def _feed_key() -> str:
    """A feed's polls count against a budget of its own (by the token's digest, not the
    token): calendar services poll many users' feeds from few addresses."""
    token = str((request.view_args or {}).get("token", ""))
    return "calendar:" + hashlib.sha256(token.encode()).hexdigest()


feed_limit = limiter.shared_limit(_feed_rate_limit, scope="calendar", key_func=_feed_key)


@bp.post("/feed")
@auth_required
@bp.response(201, NewCalendarFeedRead)
def create_feed() -> Any:
    """Make your calendar feed (a new one replaces the old); its URL is in this answer only"""
    issued = service.create_feed(user=current_user)
    row = issued.row
    return {
        "url": feed_url(issued.token),
        "token": issued.token,
        "prefix": row.prefix,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
    }


@bp.get("/feed")
@auth_required
@bp.response(200, CalendarFeedRead)
@bp.alt_response(404, response="NOT_FOUND")
def get_feed() -> Any:
    """Your calendar feed's metadata (never its URL)"""
    return service.get_feed(user=current_user)


@bp.delete("/feed")
@auth_required
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def revoke_feed() -> None:
    """Revoke your calendar feed: its URL answers 404 from the next request on"""
    service.revoke_feed(user=current_user)


@bp.get("/<token>.ics")
@feed_limit
@bp.doc(parameters=[IF_NONE_MATCH], responses={"200": _FEED_RESPONSE}, security=[])
@bp.alt_response(304, response="NOT_MODIFIED")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def feed(token: str) -> Response:
    """The iCalendar feed of your tasks: the URL is the credential (no other auth)"""
    owner = service.open_feed(token)
    tasks = service.feed_tasks(user_id=owner.user_id)
    name, links = f"Doable: {owner.username}", feed_links()
    etag = ical.digest(tasks, name=name, links=links)
    response = current_app.response_class(content_type=ICS_TYPE)
    response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = CACHE_CONTROL
    if is_resource_modified(request.environ, etag=etag):
        response.set_data(ical.calendar_bytes(tasks, name=name, links=links))
    else:
        response.status_code = 304
    return response
