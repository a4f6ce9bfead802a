"""Attachment routes (docs/api.md, Attachments)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, url_for

from doable.api import IF_NONE_MATCH, Blueprint
from doable.api.auth import auth_required, current_user
from doable.api.parsing import accepts
from doable.attachments import service
from doable.attachments.download import DOWNLOAD_RESPONSE, file_response
from doable.attachments.schemas import AttachmentList, AttachmentRead, AttachmentUpload

bp = Blueprint(
    "attachments", __name__, url_prefix="/api/tasks", description="Files attached to tasks"
)


def editable_task_first(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer 404 / 403 from the URL before the body is read: nobody can make the
    server receive and store a large upload for a task they may not edit."""

    @functools.wraps(view)
    def wrapper(*args: Any, task_id: int, **kwargs: Any) -> Any:
        service.may_upload(user=current_user, task_id=task_id)
        return view(*args, task_id=task_id, **kwargs)

    return wrapper


@bp.post("/<int:task_id>/attachments")
@accepts("multipart/form-data")
@auth_required(scope="tasks:write")
@editable_task_first
@bp.arguments(AttachmentUpload, location="files")
@bp.response(201, AttachmentRead)
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(507, response="INSUFFICIENT_STORAGE")
def upload_attachment(files: dict[str, Any], task_id: int) -> Any:
    """Attach a file (owner or edit access; multipart field `file`)"""
    attachment = service.upload_attachment(user=current_user, task_id=task_id, file=files["file"])
    location = url_for(".download_attachment", task_id=task_id, attachment_id=attachment.id)
    return attachment, 201, {"Location": location}


@bp.get("/<int:task_id>/attachments")
@auth_required(scope="tasks:read")
@bp.response(200, AttachmentList)
@bp.alt_response(404, response="NOT_FOUND")
def list_attachments(task_id: int) -> Any:
    """The task's attachments"""
    return {"attachments": service.list_attachments(user=current_user, task_id=task_id)}


@bp.get("/<int:task_id>/attachments/<int:attachment_id>")
@auth_required(scope="tasks:read")
@bp.doc(parameters=[IF_NONE_MATCH], responses={"200": DOWNLOAD_RESPONSE})
@bp.response(200, {"format": "binary", "type": "string"}, content_type="application/octet-stream")
@bp.alt_response(304, response="NOT_MODIFIED")
@bp.alt_response(404, response="NOT_FOUND")
def download_attachment(task_id: int, attachment_id: int) -> Response:
    """Download the exact bytes (always as an attachment, never rendered inline)"""
    attachment, stream = service.open_attachment(
        user=current_user, task_id=task_id, attachment_id=attachment_id
    )
    return file_response(attachment, stream)


@bp.delete("/<int:task_id>/attachments/<int:attachment_id>")
@auth_required(scope="tasks:write")
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def delete_attachment(task_id: int, attachment_id: int) -> None:
    """Delete an attachment and its stored file (owner or edit access)"""
    service.delete_attachment(user=current_user, task_id=task_id, attachment_id=attachment_id)
