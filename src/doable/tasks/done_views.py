"""Done in one click (``done_toggle`` in macros.html) and its Undo.

The tick is a form (``POST /tasks/<id>/done``, route ``web.tasks.done``) that redirects
back where it was clicked (``next``, a path on this site) with a confirmation whose
Undo is a form too (``POST /tasks/<id>/undo``): it carries what the tick changed, as it
was, and the task's ETag after the tick, so an edit made in between is never undone.
static/tasks/done.js sends the same forms asking for JSON (``Accept: application/json``)
and updates the page in place.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from werkzeug.datastructures import ETags
from werkzeug.wrappers import Response

from doable.auth.models import User
from doable.errors import PreconditionFailed, ValidationFailed, error_page
from doable.schemas import timestamp
from doable.tasks import service
from doable.tasks.models import Status
from doable.tasks.schemas import body_etag, task_row_body
from doable.web import Page
from doable.web.session import login_required, safe_next

bp = Blueprint("done", __name__)
#: The longest ETag an Undo form may carry (ours are 32 characters).
MAX_ETAG = 64
STALE_UNDO = "“{title}” was changed after it was ticked, so Undo left it as it is."


def tick(user: User, task_id: int) -> Page:
    """``web.tasks.done``: done (``done=true``) or not done (``done=false``)."""
    wanted = request.form.get("done")
    if wanted not in ("true", "false"):
        return error_page(400, "Say done=true or done=false.")
    try:  # the service runs the guard (404 / 403)
        toggled = service.set_done(user=user, task_id=task_id, done=wanted == "true")
    except service.NothingToChange:
        title = service.get_task(user=user, task_id=task_id).title
        return _answer(title, "info", _already(title, wanted == "true"), task_id)
    task, previous = toggled
    said = f"“{task.title}” done." if wanted == "true" else f"“{task.title}” is not done."
    undo = {
        "etag": body_etag(task_row_body(task)),
        "status": previous.status,
        "due_date": "" if previous.due_date is None else previous.due_date.isoformat(),
        "due_time": "" if previous.due_time is None else previous.due_time.isoformat(),
    }
    return _answer(task.title, "success", said, task_id, written=task, undo=undo)


@bp.post("/tasks/<int:task_id>/undo")
@login_required
def undo(user: User, task_id: int) -> Page:
    """Put back what a tick changed, unless the task was changed since."""
    previous, etag = _previous(request.form)
    if previous is None:
        return error_page(400, "This Undo form is not one the site made.")
    try:  # the service runs the guard (404 / 403)
        written = service.restore(
            user=user, task_id=task_id, previous=previous, if_match=ETags([etag])
        )
    except PreconditionFailed:
        title = service.get_task(user=user, task_id=task_id).title
        return _answer(title, "error", STALE_UNDO.format(title=title), task_id, 409)
    except (service.NothingToChange, ValidationFailed):
        title = service.get_task(user=user, task_id=task_id).title
        return _answer(title, "info", f"“{title}” is as it was.", task_id)
    said = f"“{written.title}” is back as it was."
    return _answer(written.title, "success", said, task_id, written=written)


def _previous(form: Any) -> tuple[service.Previous | None, str]:
    """What an Undo form says the tick changed, if it is one the site made."""
    status, etag = form.get("status", ""), form.get("etag", "")
    if status not in tuple(Status) or not etag or len(etag) > MAX_ETAG:
        return None, etag
    try:
        due_date = date.fromisoformat(form["due_date"]) if form.get("due_date") else None
        due_time = time.fromisoformat(form["due_time"]) if form.get("due_time") else None
    except ValueError:
        return None, etag
    return service.Previous(status, due_date, due_time), etag


def _already(title: str, done: bool) -> str:
    return f"“{title}” was done already." if done else f"“{title}” was not done already."


def _answer(
    title: str,
    category: str,
    said: str,
    task_id: int,
    status: int = 200,
    *,
    written: service.WrittenTask | None = None,
    undo: dict[str, str] | None = None,
) -> Page:
    """JSON for the script (``Accept: application/json``); for a form, the page it was
    sent from (``next``) with ``said`` as its confirmation, and an Undo if there is one."""
    if _wants_json():
        body: dict[str, Any] = {"id": task_id, "title": title, "message": said}
        if written is not None:
            done = written.status == Status.COMPLETED
            body.update(
                done=done, version=written.version, updated_at=timestamp(written.updated_at)
            )
        if undo is not None:
            body["undo"] = undo
        response: Response = jsonify(body)
        response.status_code = status
        return response
    if undo is not None:
        # A structured message: base.html renders it with its Undo form.
        flash({"text": said, "task_id": task_id, "undo": undo}, "undo")  # type: ignore[arg-type]
    else:
        flash(said, category)
    return redirect(safe_next(request.form.get("next")) or url_for("web.tasks.index"))


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    )


@bp.app_template_global()
def done_next() -> str:
    """Where a tick sent from this page goes back to: the page itself; from a fragment
    (``web.tasks.row``, ``web.tasks.summary``), the page that fetched it."""
    if request.endpoint == "web.tasks.summary":
        return url_for("web.tasks.detail", **(request.view_args or {}))
    if request.endpoint == "web.tasks.row":
        referrer = urlsplit(request.referrer or "")
        shown = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        same_site = referrer.netloc == request.host
        return (safe_next(shown) if same_site else None) or url_for("web.tasks.index")
    return request.full_path.rstrip("?")
