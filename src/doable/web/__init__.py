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
from datetime import date, datetime
from typing import Any

from flask import Blueprint
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from doable.auth.models import THEMES
from doable.errors import error_page
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


def day(value: date) -> str:
    """``2026-01-05`` -> ``5 Jan 2026``."""
    return f"{value.day} {value:%b %Y}"


def _moment(value: datetime) -> str:
    return f"{day(value)}, {value:%H:%M} UTC"


def _size(value: int) -> str:
    if value < 1024:
        return f"{value} bytes"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KB"
    return f"{value / 1024 / 1024:.1f} MB"


FILTERS: dict[str, Callable[..., Any]] = {
    "label": label,
    "day": day,
    "moment": _moment,
    "size": _size,
}
