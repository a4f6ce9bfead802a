"""Change feed routes (docs/api.md, Change feed)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Response, jsonify

from doable.api import Blueprint
from doable.api.auth import auth_required, current_user
from doable.changes import service
from doable.changes.schemas import (
    EventPage,
    EventQuery,
    FeedPositionGone,
    HistoryPage,
    SyncQuery,
    SyncRead,
)
from doable.schemas import PageQuery

bp = Blueprint("changes", __name__, url_prefix="/api", description="Change feed")
#: The 410 of a position no longer held, with where the feed stands.
FEED_POSITION_GONE: dict[str, Any] = {
    "schema": FeedPositionGone,
    "content_type": "application/problem+json",
    "description": "Gone: changes after this position are no longer held",
}


@bp.get("/events")
@auth_required(scope="events:read")
@bp.arguments(EventQuery, location="query", as_kwargs=True)
@bp.response(200, EventPage)
@bp.alt_response(410, **FEED_POSITION_GONE)
def list_events(**query: Any) -> Response:
    """The changes you could see, after a position in your feed, in order

    Every change to a task you can see (and to your categories) gets the next `seq` of
    your feed, in the transaction that made it. Ask with the last `seq` you have; go on
    from `next_after` while `has_more`. 410 (`feed-position-gone`, with `oldest_seq`)
    when some were pruned: read everything again (`GET /api/sync`).
    """
    return jsonify(asdict(service.read_feed(user=current_user, **query)))


@bp.get("/sync")
@auth_required(scope="events:read")
@bp.arguments(SyncQuery, location="query", as_kwargs=True)
@bp.response(200, SyncRead)
@bp.alt_response(410, **FEED_POSITION_GONE)
def sync(**query: Any) -> Response:
    """What changed since your last sync, collapsed, for a copy you keep

    Each task changed since `since` once, as you see it now, or its id in `deleted` if
    it went or you can no longer see it; your categories changed (`deleted_categories`
    for those deleted). Without `since`: every task you can see and all your
    categories. At most `limit` tasks and deleted ids an answer: while `has_more`, ask
    again with `cursor`; then keep `next_since` for next time. 410
    (`feed-position-gone`) when changes since `since` were pruned: sync from nothing.
    """
    # ``vars``, not ``asdict``: its deep copy of a thousand tasks took 110 ms.
    return jsonify(vars(service.sync(user=current_user, **query)))


@bp.get("/tasks/<int:task_id>/history")
@auth_required(scope="tasks:read")
@bp.arguments(PageQuery, location="query", as_kwargs=True)
@bp.response(200, HistoryPage)
@bp.alt_response(404, response="NOT_FOUND")
def task_history(task_id: int, **query: Any) -> Response:
    """A task's changes, newest first: who changed what from what to what, and when

    For anyone who can see the task; as far back as changes are kept. Changes to its
    shares only to its owner and the user shared with.
    """
    page = service.task_history(user=current_user, task_id=task_id, **query)
    return jsonify({**vars(page), "pages": page.pages})
