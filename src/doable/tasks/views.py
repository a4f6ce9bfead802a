"""Task pages: the list with its filters, a new task, and one task (details, edit,
delete). The rules are the services'; these views turn forms into their arguments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    flash,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import ETags

from doable.attachments import service as attachments_service
from doable.attachments.forms import UploadForm
from doable.auth.models import User
from doable.categories import service as categories_service
from doable.categories.service import CategoryLimitReached
from doable.changes import service as changes_service
from doable.changes.text import describe
from doable.changes.views import remember_feed_position
from doable.errors import PreconditionFailed, ValidationFailed
from doable.schemas import MAX_PAGE, TIMESTAMP_FORMAT
from doable.settings import settings
from doable.sharing import service as sharing_service
from doable.sharing.forms import ShareForm
from doable.tasks import agenda_views, bulk_form, done_views, quick_add, service, time_form
from doable.tasks import bulk as tasks_bulk
from doable.tasks.access import Access, get_task_for
from doable.tasks.forms import FilterForm, QuickAddForm, TaskForm
from doable.tasks.models import Priority, Task, category_names
from doable.tasks.schemas import (
    QuickAddText,
    TaskCreate,
    TaskListQuery,
    TaskUpdate,
    task_etag,
)
from doable.tasks.time_views import upcoming
from doable.web import Page
from doable.web.forms import ConfirmForm
from doable.web.session import login_required, safe_next

bp = Blueprint("tasks", __name__)
#: Category names the filter suggests: the most used ones; any other can still be typed.
SUGGESTED_CATEGORIES = 50
#: Changes a task's page shows at a time, newest first (``?history=2`` for older ones).
HISTORY_PER_PAGE = 10
CHANGED_MEANWHILE = (
    "Someone changed this task after you opened it. The page now shows their version; "
    "your changes are still in the form: check them and save again."
)


@bp.get("/tasks")
@login_required
def index(user: User) -> Page:
    return _list_page(user)


def _list_page(
    user: User,
    quick: QuickAddForm | None = None,
    found: quick_add.QuickTask | None = None,
    status: int = 200,
) -> Page:
    """The list, with the quick add's form as sent (``quick``) and its preview (``found``)."""
    remember_feed_position(user)  # first: the live updates go on from there
    form = FilterForm(request.args)
    query = form.load(TaskListQuery(), form.query(request.args.get("page")))
    page = service.list_tasks(user=user, **query) if query is not None else None
    names = categories_service.most_used_names(user=user, limit=SUGGESTED_CATEGORIES)
    links = {
        "previous": _page_url(form, page.page - 1) if page and page.page > 1 else None,
        "next": _page_url(form, page.page + 1) if page and page.page < page.pages else None,
    }
    html = render_template(
        "tasks/list.html",
        form=form,
        page=page,
        links=links,
        category_names=names,
        quick=quick or QuickAddForm(formdata=None),
        quick_found=found,
    )
    return (html, status) if page is not None else (html, 400)


@bp.route("/tasks/new", methods=["GET", "POST"])
@login_required
def create(user: User) -> Page:
    form = _task_form(user, TaskForm())
    if not form.is_submitted():
        return render_template("tasks/new.html", form=form)
    data = form.validate_with(TaskCreate(), form.task_fields())
    if data is None:
        return render_template("tasks/new.html", form=form), 400
    try:
        task = service.create_task(user=user, **data)
    except CategoryLimitReached as exc:
        form.add_errors({"categories": [exc.detail or "Too many categories."]})
        return render_template("tasks/new.html", form=form), 409
    except ValidationFailed as exc:  # what needs the whole task: a rule that never occurs
        form.add_errors(exc.extra.get("errors") or {"body": [exc.detail]})
        return render_template("tasks/new.html", form=form), 400
    flash(f"Task “{task.title}” created.", "success")
    return redirect(url_for(".detail", task_id=task.id))


@bp.get("/tasks/<int:task_id>")
@login_required
def detail(user: User, task_id: int) -> Page:
    remember_feed_position(user)  # first: the live updates go on from there
    return detail_page(user, service.get_task(user=user, task_id=task_id))


@bp.post("/tasks/<int:task_id>")
@login_required
def update(user: User, task_id: int) -> Page:
    form = _task_form(user, TaskForm())
    data = form.validate_with(TaskUpdate(), form.task_fields())
    if data is None:  # the guard first: 404 / 403 before the form's errors
        task = get_task_for(user=user, task_id=task_id, need=Access.EDIT)
        return detail_page(user, task, edit_form=form, status=400)
    # valid: the service runs the guard (404 / 403), once, as it locks the task
    try:
        service.update_task(
            user=user,
            task_id=task_id,
            changes=data,
            if_match=ETags([form.version.data or ""]),
        )
    except service.NothingToChange:
        flash("Nothing to save: the task already looks like that.", "info")
        return redirect(url_for(".detail", task_id=task_id))
    except PreconditionFailed:
        current = service.get_task(user=user, task_id=task_id)
        form.version.data = task_etag(current)
        form.form_errors.append(CHANGED_MEANWHILE)
        return detail_page(user, current, edit_form=form, status=409)
    except ValidationFailed as exc:  # what needs the whole task: a rule that never occurs
        form.add_errors(exc.extra.get("errors") or {"body": [exc.detail]})
        task = get_task_for(user=user, task_id=task_id, need=Access.EDIT)
        return detail_page(user, task, edit_form=form, status=400)
    except CategoryLimitReached as exc:  # other conflicts: the error page says to retry
        form.add_errors({"categories": [exc.detail or "Too many categories."]})
        return detail_page(
            user, service.get_task(user=user, task_id=task_id), edit_form=form, status=409
        )
    flash("Task saved.", "success")
    return redirect(url_for(".detail", task_id=task_id))


@bp.route("/tasks/<int:task_id>/delete", methods=["GET", "POST"])
@login_required
def delete(user: User, task_id: int) -> Page:
    form = ConfirmForm()
    if form.validate_on_submit():  # the service runs the guard (404 / 403)
        deleted = service.delete_task(user=user, task_id=task_id)
        flash(f"Task “{deleted.title}” deleted.", "success")
        return redirect(url_for(".index"))
    task = get_task_for(user=user, task_id=task_id, need=Access.OWNER)
    return render_template(
        "confirm.html",
        form=form,
        question=f"Delete the task “{task.title}”?",
        consequence="Its attachments go with it. This cannot be undone.",
        button="Delete task",
        cancel=url_for(".detail", task_id=task_id),
    )


def detail_page(
    user: User,
    task: Task,
    *,
    edit_form: TaskForm | None = None,
    share_form: ShareForm | None = None,
    upload_form: UploadForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """One task's page: what the caller may see, and the forms their access allows."""
    access = Access.from_label(task.access or "view")
    shares = []
    if access >= Access.OWNER:
        shares = sharing_service.list_shares(user=user, task=task)
    html = render_template(
        "tasks/detail.html",
        task=task,
        can_edit=access >= Access.EDIT,
        is_owner=access >= Access.OWNER,
        edit_form=edit_form or _task_form(user, _edit_form(task)),
        upcoming=upcoming(user, task),
        share_form=share_form or ShareForm(formdata=None, prefix="share"),
        upload_form=upload_form or UploadForm(formdata=None, prefix="upload"),
        shares=shares,
        attachments=attachments_service.list_attachments(user=user, task=task),
        history=_history(user, task),
    )
    return html, status


@dataclass(frozen=True)
class HistoryLine:
    """One sentence of a task's history, and when."""

    text: str
    moment: datetime


@dataclass(frozen=True)
class History:
    lines: list[HistoryLine]
    newer: str | None
    older: str | None


def _history(user: User, task: Task) -> History:
    """A page of the task's changes (``?history=<page>``), told in words."""
    number = request.args.get("history", "1")
    digits = number.isascii() and number.isdigit() and len(number) < 7  # not "²"
    page = min(int(number), MAX_PAGE) if digits and int(number) > 0 else 1
    found = changes_service.task_history(
        user=user, task_id=task.id, task=task, page=page, per_page=HISTORY_PER_PAGE
    )
    lines = [
        HistoryLine(text, _moment(entry["at"]))
        for entry in found.changes
        for text in describe(entry)
    ]

    def link(number: int) -> str:
        return url_for(".detail", task_id=task.id, history=number, _anchor="history")

    return History(
        lines=lines,
        newer=link(page - 1) if 1 < page <= found.pages else None,
        older=link(page + 1) if page < found.pages else None,
    )


def _moment(at: str) -> datetime:
    return datetime.strptime(at, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def _task_form(user: User, form: TaskForm) -> TaskForm:
    return form.for_zone(user.timezone, settings().max_reminders_per_task)


def _edit_form(task: Task) -> TaskForm:
    repeat, rule = time_form.preset_of(task.recurrence_rule, task.due_date)
    values: dict[str, Any] = {
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "priority": Priority(task.priority).label,
        "due_date": task.due_date.isoformat() if task.due_date else "",
        "due_time": task.due_time.strftime("%H:%M") if task.due_time else "",
        "timezone": task.timezone or "",
        "repeat": repeat,
        "rule": rule,
        "repeat_mode": task.recurrence_mode or "schedule",
        "reminders": [time_form.reminder_row(spec) for spec in task.reminders or []],
        "categories": ", ".join(category_names(task)),
        "version": task_etag(task),
    }
    return TaskForm(formdata=None, data=values)


def _page_url(form: FilterForm, number: int) -> str:
    query: dict[str, Any] = form.query(str(number))
    return url_for(".index", **query)


def _priority(value: int) -> str:
    return Priority(value).label


bp.add_app_template_filter(_priority, "priority")
bp.add_app_template_filter(category_names, "categories")


# --- quick add (tasks/_quick_add.html, static/tasks/quick_add.js) ------------------------


@bp.post("/tasks/quick")
@login_required
def quick(user: User) -> Page:
    """The quick add's line, previewed ("Preview") or added as a task ("Add")."""
    form = QuickAddForm()
    data = form.validate_with(QuickAddText(), {"text": form.text.data or ""})
    if data is None:
        return _quick_again(user, form, None, 400)
    found = service.parse_quick_add(user=user, text=data["text"])
    if request.form.get("action") == "preview":
        return _quick_again(user, form, found, 200)
    fields = form.task_fields(found)
    if fields is None:
        return _quick_again(user, form, found, 400)
    try:
        task = service.create_task(user=user, **fields)
    except CategoryLimitReached as exc:
        form.text.errors = [exc.detail or "Too many categories."]
        return _quick_again(user, form, found, 409)
    flash(f"Task “{task.title}” added.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for(".index"))


def _quick_again(
    user: User, form: QuickAddForm, found: quick_add.QuickTask | None, status: int
) -> Page:
    """The page the quick add was sent from (its ``next``: a view, else the list), with
    the line as typed and its preview or errors."""
    came_from = safe_next(request.form.get("next"))
    for name in ("today", "upcoming"):
        if came_from == url_for(f"web.agenda.{name}"):
            return agenda_views.view_page(user, name, quick=form, found=found, status=status)
    return _list_page(user, form, found, status=status)


@bp.get("/tasks/quick/preview")
@login_required
def quick_preview(user: User) -> Page:
    """The quick add's preview of ``?text=``, as the list page shows it after "Preview"."""
    form = QuickAddForm(request.args)
    data = form.load(QuickAddText(), {"text": request.args.get("text", "")})
    found = None if data is None else service.parse_quick_add(user=user, text=data["text"])
    macro = get_template_attribute("tasks/_quick_preview.html", "quick_preview")
    return str(macro(found, form.text.errors)), 200 if data is not None else 400


# --- fragments: the open pages fetch these when an event says a task changed ------------


@bp.get("/tasks/<int:task_id>/row")
@login_required
def row(user: User, task_id: int) -> Page:
    """The task's row, as the list renders it."""
    return _fragment("task_row", get_task_for(user=user, task_id=task_id, need=Access.VIEW))


@bp.get("/tasks/<int:task_id>/summary")
@login_required
def summary(user: User, task_id: int) -> Page:
    """The task's summary, as its own page renders it."""
    return _fragment("task_summary", get_task_for(user=user, task_id=task_id, need=Access.VIEW))


def _fragment(macro: str, task: Task) -> str:
    """One macro of macros.html, the very one the pages call, rendered alone."""
    return str(get_template_attribute("macros.html", macro)(task))


@bp.app_template_global()
def task_url_template(endpoint: str) -> str:
    """``endpoint``'s URL with ``{task_id}`` where a task's id goes, for a script to fill
    in, under whatever prefix the site is served: the one character in which the URLs of
    tasks 0 and 1 differ."""
    zero, one = url_for(endpoint, task_id=0), url_for(endpoint, task_id=1)
    at = next(i for i, (a, b) in enumerate(zip(zero, one, strict=True)) if a != b)
    return f"{zero[:at]}{{task_id}}{zero[at + 1 :]}"


# --- one click done (done_toggle in macros.html) ----------------------------------------


@bp.post("/tasks/<int:task_id>/done")
@login_required
def done(user: User, task_id: int) -> Page:
    """Done, or not done again: the form of a row's and a task page's checkbox."""
    return done_views.tick(user, task_id)


# --- bulk actions (tasks/_bulk.html) ------------------------------------------------------


@bp.post("/tasks/bulk")
@login_required
def bulk(user: User) -> Page:
    """One action on the selected tasks (tasks/_bulk.html), then back to the list as it
    was; a deletion asks first, and only the confirmed form deletes."""
    chosen = bulk_form.Chosen.read(request.form)
    back = chosen.next or url_for(".index")
    if chosen.problem:
        flash(chosen.problem, "error")
        return redirect(back)
    if chosen.action == "delete" and not chosen.confirmed:
        return bulk_form.confirm_delete(user, chosen, back)
    results = tasks_bulk.apply(
        user=user, action=chosen.action, task_ids=chosen.task_ids, category=chosen.category
    )
    flash(*bulk_form.summary(user, chosen, results))
    return redirect(back)
