"""The calendar feed's part of the account page: make (the URL shown once), revoke.

The account page includes ``calendar_feed/_section.html``, which reads the feed with
``calendar_feed_of``: the account view itself knows nothing of feeds."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from doable.auth.models import User
from doable.calendar_feed import service
from doable.calendar_feed.links import feed_url, webcal_url
from doable.calendar_feed.models import CalendarFeed
from doable.web import Page
from doable.web.forms import ConfirmForm
from doable.web.session import login_required

bp = Blueprint("calendar_feed", __name__)


@bp.app_template_global()
def calendar_feed_of(user: User) -> CalendarFeed | None:
    """The user's feed, for the account page's section (None: they have none)."""
    return service.find_feed(user=user)


@bp.post("/account/calendar")
@login_required
def create(user: User) -> Page:
    """The URL is shown in this answer only (never kept in the cookie, which is signed,
    not encrypted): no redirect, and the answer is not cached. (The form carries only
    its CSRF token, checked before any view.)"""
    issued = service.create_feed(user=user)
    url = feed_url(issued.token)
    return render_template("calendar_feed/issued.html", url=url, webcal=webcal_url(url))


@bp.route("/account/calendar/delete", methods=["GET", "POST"])
@login_required
def revoke(user: User) -> Page:
    form = ConfirmForm()
    if form.validate_on_submit():  # the service says 404 when there is none
        service.revoke_feed(user=user)
        flash("Calendar feed revoked: its URL no longer works.", "success")
        return redirect(url_for("web.auth.account"))
    feed = service.get_feed(user=user)
    return render_template(
        "confirm.html",
        form=form,
        question="Revoke your calendar feed?",
        consequence=f"Calendars subscribed to {feed.prefix}… stop getting your tasks.",
        button="Revoke feed",
        cancel=url_for("web.auth.account"),
    )
