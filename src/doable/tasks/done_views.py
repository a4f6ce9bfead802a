"""Done in one click (``done_toggle`` in macros.html) and its Undo.

The tick is a form (``POST /tasks/<id>/done``, route ``web.tasks.done``) that redirects
back where it was clicked (``next``, a path on this site) with a confirmation whose
Undo is a form too (``POST /tasks/<id>/undo``): it carries what the tick changed, as it
was, and the task's ETag after the tick, so an edit made in between is never undone,
signed (``_UNDO``: the app's secret) for this user and task, as the previous state it
puts back is not for a form to choose. A tick of a task with a due date names the
occurrence it was shown for (``occurrence``), so a second submit does not complete the
next one too.
static/tasks/done.js sends the same forms asking for JSON (``Accept: application/json``)
and updates the page in place.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, jsonify, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import ETags
from werkzeug.wrappers import Response

from doable.auth.models import User
from doable.errors import Conflict, PreconditionFailed, ValidationFailed, error_page
from doable.schemas import timestamp
from doable.tasks import service, timing
from doable.tasks.models import Status
from doable.tasks.schemas import body_etag, task_row_body
from doable.web import Page
from doable.web.session import login_required, safe_next

bp = Blueprint("done", __name__)
#: The longest Undo token a form may carry (ours are under 200 characters).
MAX_UNDO = 512
STALE_UNDO = "“{title}” was changed after it was ticked, so Undo left it as it is."


def tick(user: User, task_id: int) -> Page:
    """``web.tasks.done``: done (``done=true``) or not done (``done=false``)."""
    wanted = request.form.get("done")
    if wanted not in ("true", "false"):
        return error_page(400, "Say done=true or done=false.")
    occurrence = request.form.get("occurrence") or None
    try:  # the service runs the guard (404 / 403)
        toggled = service.set_done(
            user=user, task_id=task_id, done=wanted == "true", occurrence=occurrence
        )
    except service.NothingToChange:
        title = service.get_task(user=user, task_id=task_id).title
        return _answer(title, "info", _already(title, wanted == "true"), task_id)
    except (Conflict, ValidationFailed):  # an occurrence still to come, or no key
        title = service.get_task(user=user, task_id=task_id).title
        return _answer(title, "error", f"“{title}” was not shown as it is: reload.", task_id, 409)
    task, previous = toggled
    said = f"“{task.title}” done." if wanted == "true" else f"“{task.title}” is not done."
    undo = {"undo": _sign(user, task_id, body_etag(task_row_body(task)), previous)}
    return _answer(task.title, "success", said, task_id, written=task, undo=undo)


@bp.post("/tasks/<int:task_id>/undo")
@login_required
def undo(user: User, task_id: int) -> Page:
    """Put back what a tick changed, unless the task was changed since."""
    previous, etag = _previous(user, task_id, request.form.get("undo", ""))
    if previous is None:
        return _refused()
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


def _undo_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="undo")  # type: ignore[arg-type]


def _sign(user: User, task_id: int, etag: str, previous: service.Previous) -> str:
    """The Undo token of a tick: who, which task, its ETag after, and what it was."""
    due_date, due_time = previous.due_date, previous.due_time
    return str(
        _undo_serializer().dumps(
            [
                user.id,
                task_id,
                etag,
                previous.status,
                None if due_date is None else due_date.isoformat(),
                None if due_time is None else due_time.isoformat(),
            ]
        )
    )


def _previous(user: User, task_id: int, token: str) -> tuple[service.Previous | None, str]:
    """What an Undo token says the tick changed, if the site signed it for ``user`` and
    this task; and the task's ETag after the tick."""
    if not token or len(token) > MAX_UNDO:
        return None, ""
    try:
        signed = _undo_serializer().loads(token)
        signer, signed_task, etag, status, due_date, due_time = signed
    except (BadSignature, TypeError, ValueError):
        return None, ""
    if (signer, signed_task) != (user.id, task_id) or status not in tuple(Status):
        return None, ""
    due = date.fromisoformat(due_date) if due_date else None
    at = time.fromisoformat(due_time) if due_time else None
    return service.Previous(status, due, at), str(etag)


def _refused() -> Page:
    said = "This Undo form is not one the site made."
    if _wants_json():
        response: Response = jsonify({"message": said})
        response.status_code = 400
        return response
    return error_page(400, said)


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
def done_occurrence(task: Any) -> str:
    """The key of the occurrence a tick of recurring ``task`` completes ("" if none)."""
    if not task.recurrence_rule:
        return ""
    return timing.current_key(task) or ""


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
