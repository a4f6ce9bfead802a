"""The Today and Upcoming pages (``tasks.agenda``), and the counts of the views'
navigation (tasks/_views_nav.html), which the open pages read again as tasks change
(``GET /tasks/counts``, static/live/page.js)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

from flask import Blueprint, jsonify, render_template
from werkzeug.wrappers import Response

from doable.auth.models import User
from doable.changes.views import remember_feed_position
from doable.tasks import agenda, recurrence
from doable.tasks.forms import QuickAddForm
from doable.tasks.quick_add import QuickTask
from doable.web import Page
from doable.web.session import login_required, signed_in_user

bp = Blueprint("agenda", __name__)


@bp.get("/tasks/today")
@login_required
def today(user: User) -> Page:
    return view_page(user, "today")


@bp.get("/tasks/upcoming")
@login_required
def upcoming(user: User) -> Page:
    return view_page(user, "upcoming")


def view_page(
    user: User,
    name: str,
    *,
    quick: QuickAddForm | None = None,
    found: QuickTask | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The view ``name`` ("today" or "upcoming"), with the quick add's form as sent
    (``quick``) and its preview (``found``) when the line was typed here."""
    remember_feed_position(user)  # first: the live updates go on from there
    if name == "today":
        view, days = agenda.list_today(user=user), None
    else:
        view = agenda.list_upcoming(user=user)
        days = view.days(recurrence.zone(user.timezone))
    html = render_template(
        "tasks/view.html",
        name=name,
        view=view,
        days=days,
        upcoming_days=agenda.UPCOMING_DAYS,
        quick=quick or QuickAddForm(formdata=None),
        quick_found=found,
    )
    return html, status


@bp.get("/tasks/counts")
@login_required
def counts(user: User) -> Response:
    """How many tasks Today and Upcoming hold now, for the navigation of an open page."""
    return jsonify(asdict(agenda.count_views(user=user)))


@bp.app_template_global()
def view_counts() -> agenda.Counts | None:
    """The views' counts for the navigation: read only where it is rendered (full
    pages, never fragments)."""
    user = signed_in_user()
    return agenda.count_views(user=user) if user is not None else None


@bp.app_template_filter("day_heading")
def day_heading(day: date, today: date) -> str:
    """A day of Upcoming as its heading says it: "Tomorrow", "Wednesday 2 December"
    (with the year when it is not this one)."""
    return "Tomorrow" if day == today + timedelta(days=1) else long_day(day, today)


@bp.app_template_filter("long_day")
def long_day(day: date, today: date) -> str:
    """ "Wednesday 2 December", with the year when it is not ``today``'s."""
    year = f" {day.year}" if day.year != today.year else ""
    return f"{day:%A} {day.day} {day:%B}{year}"
