"""Attachments from a task's page: upload, download, delete (the service decides who may)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from doable.attachments import service
from doable.attachments.download import file_response
from doable.attachments.forms import UploadForm
from doable.attachments.schemas import AttachmentUpload
from doable.auth.models import User
from doable.errors import DoableError
from doable.extensions import csrf
from doable.tasks import service as tasks_service
from doable.tasks.access import Access
from doable.tasks.views import detail_page
from doable.web import Page
from doable.web.forms import ConfirmForm
from doable.web.session import login_required

bp = Blueprint("attachments", __name__)


@bp.post("/tasks/<int:task_id>/attachments")
@csrf.exempt  # checked below, once the task is known to be editable
@login_required
def upload(user: User, task_id: int) -> Page:
    # 404 / 403 from the URL before the body (and the CSRF token in it) is read.
    service.may_upload(user=user, task_id=task_id)
    csrf.protect()
    form = UploadForm(prefix="upload")
    given = {"file": form.file.data} if form.file.data is not None else {}
    data = form.validate_with(AttachmentUpload(), given)
    if data is None:
        task = tasks_service.get_task(user=user, task_id=task_id)
        return detail_page(user, task, upload_form=form, status=400)
    try:
        attachment = service.upload_attachment(user=user, task_id=task_id, file=data["file"])
    except DoableError as exc:
        if exc.status not in (400, 413):  # empty, too large, over quota: say so by the field
            raise
        form.add_errors(exc.extra.get("errors") or {"file": [exc.detail]})
        task = tasks_service.get_task(user=user, task_id=task_id)  # read again after rollback
        return detail_page(user, task, upload_form=form, status=exc.status)
    flash(f"Attached “{attachment.filename}”.", "success")
    return redirect(url_for("web.tasks.detail", task_id=task_id))


@bp.get("/tasks/<int:task_id>/attachments/<int:attachment_id>")
@login_required
def download(user: User, task_id: int, attachment_id: int) -> Page:
    attachment, stream = service.open_attachment(
        user=user, task_id=task_id, attachment_id=attachment_id
    )
    return file_response(attachment, stream)


@bp.route("/tasks/<int:task_id>/attachments/<int:attachment_id>/delete", methods=["GET", "POST"])
@login_required
def delete(user: User, task_id: int, attachment_id: int) -> Page:
    form = ConfirmForm()
    if form.validate_on_submit():  # the service runs the guard (404 / 403)
        deleted = service.delete_attachment(user=user, task_id=task_id, attachment_id=attachment_id)
        flash(f"Deleted “{deleted.filename}”.", "success")
        return redirect(url_for("web.tasks.detail", task_id=task_id))
    attachment = service.get_attachment(
        user=user, task_id=task_id, attachment_id=attachment_id, need=Access.EDIT
    )
    return render_template(
        "confirm.html",
        form=form,
        question=f"Delete the file “{attachment.filename}”?",
        consequence="This cannot be undone.",
        button="Delete file",
        cancel=url_for("web.tasks.detail", task_id=task_id),
    )
