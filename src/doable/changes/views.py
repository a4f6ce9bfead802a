"""The change feed for the web pages' live updates (``static/live/page.js``).

``GET /api/events`` takes bearer tokens only; a page has its session cookie. So a
page reads its user's feed here: the same service function, the same JSON, and Problem
Details on errors as the API answers them (a page reads the status: 410 means reload).
A page renders the feed position it shows (``feed_seq``), read before what it shows.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import ValidationError

from doable.auth.models import User
from doable.changes import service
from doable.changes.schemas import EventQuery
from doable.errors import DoableError, ValidationFailed, problem
from doable.web.session import login_required, signed_in_user

bp = Blueprint("changes", __name__)
_QUERY = EventQuery()


@bp.get("/live/events")
@login_required
def events(user: User) -> Response:
    """Your changes after ``after``, as ``GET /api/events`` answers them."""
    try:
        try:
            query = _QUERY.load(request.args)
        except ValidationError as exc:
            raise ValidationFailed(exc.messages_dict) from None
        page = service.read_feed(user=user, **query)
    except DoableError as error:
        extra = error.extra
        return problem(error.status, error.detail, problem_type=error.problem_type, **extra)
    return jsonify(asdict(page))


def remember_feed_position(user: User) -> None:
    """Read the user's feed position now, before the page reads what it shows: a change
    committed in between is then both shown and replayed (harmless), never lost."""
    g.feed_seq = service.feed_position(user.id)


@bp.app_template_global()
def feed_seq() -> int:
    """The feed position the page shows (``remember_feed_position``, else now)."""
    if "feed_seq" not in g:
        user = signed_in_user()
        g.feed_seq = service.feed_position(user.id) if user is not None else 0
    seq: int = g.feed_seq
    return seq
