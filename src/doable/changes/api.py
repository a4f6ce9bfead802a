"""Change feed routes (docs/api.md, Change feed)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, jsonify

from doable.api import Blueprint
from doable.api.auth import auth_required, current_user
from doable.changes import service
from doable.changes.schemas import EventPage, EventQuery

bp = Blueprint("changes", __name__, url_prefix="/api", description="Change feed")


@bp.get("/events")
@auth_required
@bp.arguments(EventQuery, location="query", as_kwargs=True)
@bp.response(200, EventPage)
@bp.alt_response(410, response="GONE")
def list_events(**query: Any) -> Response:
    """The changes you could see, after a position in your feed, in order

    Every change to a task you can see (and to your categories) gets the next `seq` of
    your feed, in the transaction that made it. Ask with the last `seq` you have; go on
    from `next_after` while `has_more`. 410 (`feed-position-gone`, with `oldest_seq`)
    when some were pruned: read everything again (`GET /api/sync`).
    """
    return jsonify(asdict(service.read_feed(user=current_user, **query)))
