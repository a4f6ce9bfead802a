"""What every page of the server-rendered web UI shares (README, Web UI).

Each domain keeps its own pages (``doable.<domain>.views``) and forms; ``blueprint``
gathers them under one blueprint named ``web``, so their endpoints read
``web.<area>.<view>``. Pages sign in with a session cookie (``session``), forms carry
CSRF tokens (``forms``), and errors become pages in the same layout
(``doable.errors.is_browser_route``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from doable.auth.models import THEMES
from doable.errors import error_page
from doable.schemas import timestamp
from doable.tasks import recurrence
from doable.web.forms import label
from doable.web.session import signed_in_user

#: What a page view returns: the HTML, the HTML with a status, or a response (a redirect).
Page = str | tuple[str, int] | Response
log = logging.getLogger(__name__)
CSRF_REFUSED = (
    "This form has expired or was not sent from this site. Go back, reload the page and "
    "submit it again."
)


def blueprint(*areas: Blueprint) -> Blueprint:
    """The web UI of one app: the pages of each area (a domain's ``views.bp``) under
    ``web``, with the layout context, the template filters and the CSRF error page
    (an area may add filters of its own, like the tasks' ``priority``).

    Built afresh for every app: a blueprint takes no more children once an app has
    registered it, and an app has its own."""
    bp = Blueprint("web", __name__)
    bp.app_context_processor(_layout_context)
    bp.app_errorhandler(CSRFError)(_csrf_refused)
    for name, template_filter in FILTERS.items():
        bp.add_app_template_filter(template_filter, name)
    for area in areas:
        bp.register_blueprint(area)
    return bp


def _layout_context() -> dict[str, Any]:
    """What base.html needs on every page, error pages included: the error page that
    says the database is down must not need the database."""
    try:
        return {"me": signed_in_user(), "themes": THEMES}
    except SQLAlchemyError:
        log.warning("page rendered without its user: the database did not answer")
        return {"me": None}


def _csrf_refused(error: CSRFError) -> Response:
    return error_page(400, CSRF_REFUSED)


def viewer_zone() -> ZoneInfo:
    """The zone the pages show times in: the signed-in user's (UTC for anyone else)."""
    user = signed_in_user()
    return recurrence.zone(user.timezone if user else "UTC")


def day(value: date) -> str:
    """``2026-01-05`` -> ``5 Jan 2026``; an instant (an aware datetime) on its day in
    the viewer's zone."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(viewer_zone())
    return f"{value.day} {value:%b %Y}"


def moment(value: datetime) -> Markup:
    """An instant (stored in UTC) in the viewer's zone, named, in a ``<time>`` that
    carries it as the API writes it: ``5 Jan 2026, 16:00 IST`` for Asia/Kolkata."""
    instant = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    local = instant.astimezone(viewer_zone())
    name = local.tzname() or ""
    if name and name[0] in "+-":  # a zone with no abbreviation of its own: "+04" -> "UTC+04"
        name = f"UTC{name}"
    return Markup('<time datetime="{}">{}, {:%H:%M} {}</time>').format(
        timestamp(instant), day(local), local, name
    )


def _size(value: int) -> str:
    if value < 1024:
        return f"{value} bytes"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KB"
    return f"{value / 1024 / 1024:.1f} MB"


FILTERS: dict[str, Callable[..., Any]] = {
    "label": label,
    "day": day,
    "moment": moment,
    "size": _size,
}
