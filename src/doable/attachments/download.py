"""The response that hands a stored file to a client, for the API and the web pages.

Always a download (``Content-Disposition: attachment``), never rendered: ``nosniff``, a
sandboxing CSP, and the declared type only when it is on a short safe list.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request
from werkzeug.wsgi import wrap_file

from doable.attachments.models import Attachment
from doable.attachments.service import CHUNK

#: Types a browser may be handed as they are; anything else downloads as octet-stream,
#: so no upload is ever served as a page, a script or an SVG.
SAFE_TYPES = {
    "application/pdf", "application/zip", "application/json", "text/plain", "text/csv",
    "image/png", "image/jpeg", "image/gif", "image/webp", "audio/mpeg", "video/mp4",
}  # fmt: skip
_BYTES = {"type": "string", "format": "binary"}
#: A download as the OpenAPI document describes it: each type it may be sent as (a JSON
#: file is any JSON value) and its headers.
DOWNLOAD_RESPONSE = {
    "description": "The exact bytes, as a download, typed as declared when that is safe",
    "content": {
        mimetype: {"schema": {} if mimetype == "application/json" else _BYTES}
        for mimetype in sorted(SAFE_TYPES | {"application/octet-stream"})
    },
    "headers": {
        "ETag": {"description": "The file's sha256", "schema": {"type": "string"}},
        "Content-Disposition": {
            "description": "Always `attachment`, with the file's name",
            "schema": {"type": "string"},
        },
    },
}


def file_response(attachment: Attachment, stream: Any) -> Response:
    """Stream ``stream`` (the attachment's bytes) as a download."""
    mimetype = attachment.content_type
    response = current_app.response_class(
        wrap_file(request.environ, stream, buffer_size=CHUNK),
        mimetype=mimetype if mimetype in SAFE_TYPES else "application/octet-stream",
        direct_passthrough=True,
    )
    response.content_length = attachment.size
    response.headers["Content-Disposition"] = content_disposition(attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.set_etag(attachment.sha256)
    response.make_conditional(request)
    return response


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback, and the real name UTF-8 encoded in ``filename*``."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_") or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
