"""Attachment routes (SPEC §7)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request, url_for
from flask_jwt_extended import current_user
from werkzeug.wsgi import wrap_file

from doable.attachments import service
from doable.attachments.models import Attachment
from doable.attachments.schemas import AttachmentList, AttachmentRead, AttachmentUpload
from doable.hooks import accepts
from doable.rest import Blueprint, auth_required

bp = Blueprint(
    "attachments", __name__, url_prefix="/api/tasks", description="Files attached to tasks"
)
#: Types a browser may be handed as they are; anything else downloads as octet-stream,
#: so no upload is ever served as a page, a script or an SVG.
SAFE_TYPES = {
    "application/pdf", "application/zip", "application/json", "text/plain", "text/csv",
    "image/png", "image/jpeg", "image/gif", "image/webp", "audio/mpeg", "video/mp4",
}  # fmt: skip


@bp.post("/<int:task_id>/attachments")
@accepts("multipart/form-data")
@auth_required
@bp.arguments(AttachmentUpload, location="files")
@bp.response(201, AttachmentRead)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
def upload(files: dict[str, Any], task_id: int) -> Any:
    """Attach a file (owner or edit access; multipart field `file`)"""
    attachment = service.upload_attachment(user=current_user, task_id=task_id, file=files["file"])
    location = url_for(".download", task_id=task_id, attachment_id=attachment.id)
    return attachment, 201, {"Location": location}


@bp.get("/<int:task_id>/attachments")
@auth_required
@bp.response(200, AttachmentList)
@bp.alt_response(404, response="NOT_FOUND")
def list_attachments(task_id: int) -> Any:
    """The task's attachments"""
    return {"attachments": service.list_attachments(user=current_user, task_id=task_id)}


@bp.get("/<int:task_id>/attachments/<int:attachment_id>")
@auth_required
@bp.response(200, {"format": "binary", "type": "string"}, content_type="application/octet-stream")
@bp.alt_response(404, response="NOT_FOUND")
def download(task_id: int, attachment_id: int) -> Response:
    """Download the exact bytes (always as an attachment, never rendered inline)"""
    attachment, stream = service.open_attachment(
        user=current_user, task_id=task_id, attachment_id=attachment_id
    )
    return _file_response(attachment, stream)


@bp.delete("/<int:task_id>/attachments/<int:attachment_id>")
@auth_required
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def delete(task_id: int, attachment_id: int) -> None:
    """Delete an attachment and its stored file (owner or edit access)"""
    service.delete_attachment(user=current_user, task_id=task_id, attachment_id=attachment_id)


def _file_response(attachment: Attachment, stream: Any) -> Response:
    mimetype = attachment.content_type
    response = current_app.response_class(
        wrap_file(request.environ, stream, buffer_size=service.CHUNK),
        mimetype=mimetype if mimetype in SAFE_TYPES else "application/octet-stream",
        direct_passthrough=True,
    )
    response.content_length = attachment.size
    response.headers["Content-Disposition"] = content_disposition(attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-cache"
    response.set_etag(attachment.sha256)
    response.make_conditional(request)
    return response


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback, and the real name UTF-8 encoded in ``filename*``."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_") or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
