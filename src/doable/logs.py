"""Request ids, and log lines that carry them: plain text in development, JSON in
production.

A request's id is the client's ``X-Request-Id`` when it sent a sane one, else a fresh
one; every response returns it in that header, and a Problem Details body quotes it.

Every request leaves one ``doable.access`` line: request id, user id, method, path,
status and duration (``doable serve`` turns gunicorn's own access log off for it).

A message is client text as often as not (the path of the access line), so the plain
text format writes control characters as escapes: a ``%0a`` in a URL cannot start a
line of its own. JSON lines are safe as they are: ``json.dumps`` escapes them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from doable.settings import settings

access_log = logging.getLogger("doable.access")
REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PLAIN_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
#: A calendar feed's URL is its credential: a log line keeps its token's prefix (as the
#: account page shows it) and drops the rest (``loggable_path``).
_FEED_TOKEN = re.compile(r"^(/api/calendar/dcal_[A-Za-z0-9_-]{8})[^/]*(\.ics)$")
#: C0 controls, DEL, C1 controls, the Unicode line and paragraph separators, and the
#: backslash itself, so that an escape in the log always means an escaped character.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")


def loggable_path() -> str:
    """The request's path as every log line writes it: a calendar feed's token cut to its
    prefix. A line that writes the path takes it from here, never from ``request``."""
    return _FEED_TOKEN.sub(r"\1…\2", request.path)


def escape_controls(text: str) -> str:
    """``text`` on one line: ``\\n`` as ``\\x0a``, U+2028 as ``\\u2028``, ``\\`` as ``\\\\``."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    return f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}"


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class PlainFormatter(logging.Formatter):
    """Development's one-line format; the message is escaped, a traceback is not."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - the base's name
        return escape_controls(super().formatMessage(record))


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging(app: Flask) -> None:
    """One stderr handler on the ``doable`` logger; idempotent across app instances."""
    logger = logging.getLogger("doable")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        if getattr(handler, "doable_handler", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.doable_handler = True  # type: ignore[attr-defined]
    handler.addFilter(RequestContextFilter())
    if settings(app).env == "production":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(PlainFormatter(PLAIN_FORMAT))
    logger.addHandler(handler)
    app.before_request(_start_clock)
    app.after_request(_log_request)  # registered first of all: runs last, sees the final status


def share_handlers(name: str) -> None:
    """Send another library's logger (e.g. ``alembic``) through Doable's handler."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers = [h for h in logging.getLogger("doable").handlers if h.doable_handler]  # type: ignore[attr-defined]


def assign_request_id() -> None:
    sent = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = sent if _SANE_REQUEST_ID.match(sent) else uuid.uuid4().hex


def send_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or uuid.uuid4().hex
    return response


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _log_request(response: Response) -> Response:
    started = g.get("request_started")
    fields: dict[str, Any] = {
        "user_id": g.get("user_id"),
        "method": request.method,
        "path": loggable_path(),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        "remote_addr": request.remote_addr,
    }
    access_log.info(
        "%s %s %s %sms user=%s",
        fields["method"],
        fields["path"],
        fields["status"],
        fields["duration_ms"],
        fields["user_id"] or "-",
        extra={"fields": fields},
    )
    return response
