"""Sharing a task from its page: the owner shares, changes permissions and unshares;
a sharee leaves."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for

from doable.auth.models import User
from doable.errors import BadRequest, Conflict, NotFound
from doable.sharing import service
from doable.sharing.forms import ShareForm
from doable.sharing.schemas import ShareCreate
from doable.tasks.access import Access, get_task_for
from doable.tasks.views import detail_page
from doable.web import Page
from doable.web.session import login_required

bp = Blueprint("sharing", __name__)


@bp.post("/tasks/<int:task_id>/share")
@login_required
def share(user: User, task_id: int) -> Page:
    form = ShareForm(prefix="share")
    data = form.validate_with(ShareCreate(), form.share_fields())
    if data is not None:  # the service runs the guard (404 / 403)
        try:
            shared, created = service.share_task(user=user, task_id=task_id, **data)
        except (NotFound, BadRequest, Conflict) as exc:  # no such user, yourself, a race
            form.add_errors({"who": [exc.detail or "Cannot share with this user."]})
        else:
            verb = "Shared with" if created else "Changed the permission of"
            flash(f"{verb} {shared.user.username}: {shared.permission}.", "success")
            return redirect(url_for("web.tasks.detail", task_id=task_id))
    # the form's errors, shown to the owner only (404 / 403 pages first), as it is now
    task = get_task_for(user=user, task_id=task_id, need=Access.OWNER)
    return detail_page(user, task, share_form=form, status=400)


@bp.post("/tasks/<int:task_id>/share/<int:user_id>/delete")
@login_required
def unshare(user: User, task_id: int, user_id: int) -> Page:
    if user_id == user.id:
        left: Page = leave(task_id=task_id)
        return left
    service.unshare_task(user=user, task_id=task_id, user_id=user_id)
    flash("The task is no longer shared with that user.", "success")
    return redirect(url_for("web.tasks.detail", task_id=task_id))


@bp.post("/tasks/<int:task_id>/leave")
@login_required
def leave(user: User, task_id: int) -> Page:
    """A sharee removes the task from their list; its owner keeps it."""
    left = service.unshare_task(user=user, task_id=task_id, user_id=user.id)
    flash(f"You left “{left.title}”; it is no longer shared with you.", "success")
    return redirect(url_for("web.tasks.index"))
