"""The server-rendered web UI (README, Web UI): pages over the same services as the API.

``bp`` holds one blueprint per area; ``app.py`` registers it like any other. Pages sign
in with a session cookie (``session``), forms carry CSRF tokens (``forms``), and
errors become pages in the same layout (``doable.errors.is_browser_route``).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError

from doable.attachments import views as attachments
from doable.auth import views as auth
from doable.categories import views as categories
from doable.errors import error_page
from doable.sharing import views as sharing
from doable.tasks import views as tasks
from doable.tasks.models import Priority, category_names
from doable.web.forms import label
from doable.web.session import signed_in_user

bp = Blueprint("web", __name__)
log = logging.getLogger(__name__)
for child in (auth.bp, tasks.bp, sharing.bp, attachments.bp, categories.bp):
    bp.register_blueprint(child)

CSRF_REFUSED = (
    "This form has expired or was not sent from this site. Go back, reload the page and "
    "submit it again."
)


@bp.app_context_processor
def _layout_context() -> dict[str, Any]:
    """What base.html needs on every page, error pages included: the error page that
    says the database is down must not need the database."""
    try:
        return {"me": signed_in_user()}
    except SQLAlchemyError:
        log.warning("page rendered without its user: the database did not answer")
        return {"me": None}


@bp.app_errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Response:
    return error_page(400, CSRF_REFUSED)


@bp.app_template_filter("label")
def _label(value: str) -> str:
    return label(value)


@bp.app_template_filter("priority")
def _priority(value: int) -> str:
    return Priority(value).label


@bp.app_template_filter("categories")
def _categories(task: Any) -> list[str]:
    return category_names(task)


@bp.app_template_filter("day")
def _day(value: date) -> str:
    """``2026-01-05`` -> ``5 Jan 2026``."""
    return f"{value.day} {value:%b %Y}"


@bp.app_template_filter("moment")
def _moment(value: datetime) -> str:
    return f"{_day(value)}, {value:%H:%M} UTC"


@bp.app_template_filter("size")
def _size(value: int) -> str:
    if value < 1024:
        return f"{value} bytes"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KB"
    return f"{value / 1024 / 1024:.1f} MB"
