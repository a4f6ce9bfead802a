"""``Idempotency-Key``: a retried write gets the first one's response, and its change is
made once (docs/api.md, Change feed).

A write under ``/api`` (POST, PUT, PATCH, DELETE, behind ``auth_required``) that sends
the header is handled in three steps:

1. Before the route: the caller's live row for the key, if any, answers at once. Same
   request (``fingerprint``: method, path and query, body) and its response kept: that
   response again, with ``Idempotent-Replayed: true``; another request: 422
   ``idempotency-key-reused``; no response kept yet (the first is still being
   answered): 409 ``idempotency-key-in-use`` with ``Retry-After: 1``.
2. Else the route runs, and the key is claimed by the unit of work that commits its
   change, in that transaction (``doable.unit_of_work.claim``): the claim and the
   change commit together or not at all. Two requests with the same key at once both
   run; the second's claim finds the first's row (on PostgreSQL it waits for the first
   to commit) and raises ``KeyTaken``, which rolls its change back, and it is answered
   from the row as in step 1. So the change is made once, whatever the timing.
3. After the response: if the claim committed, the response (status, body,
   ``Content-Type``, ``ETag``, ``Location``) is kept in the row, in a transaction of its
   own. A request that changed nothing (invalid input, 404, 412, an account route,
   which records no change) keeps nothing: a retry runs again and is refused the same
   way, or succeeds once its input is fixed.

Keys are per user and live ``DOABLE_IDEMPOTENCY_KEY_TTL_HOURS``: an older row no longer
answers, is taken over by a new claim of its key, and is deleted by
``doable.changes.service.prune``. Rows per user are bounded by the TTL times the API
rate limit.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Response, current_app, g, request
from sqlalchemy import Insert, Integer, String, bindparam, null, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from doable.changes.models import IdempotentRequest
from doable.db import utcnow
from doable.errors import Conflict, DoableError, ProblemType, UnprocessableContent, ValidationFailed
from doable.extensions import db
from doable.logs import loggable_path
from doable.settings import settings
from doable.unit_of_work import claim, unit_of_work

log = logging.getLogger(__name__)
HEADER = "Idempotency-Key"
#: Set on a response answered from the one kept for its key.
REPLAYED = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: 1 to 255 visible ASCII characters (a UUID, a ULID, a counter: the client's choice).
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
INVALID_KEY = "Must be 1 to 255 visible ASCII characters, sent once."
#: The headers of a response kept with it; the rest are the server's, per response.
KEPT_HEADERS = ("Content-Type", "ETag", "Location")
#: Seconds a client is asked to wait while the first request with its key is answered.
IN_USE_RETRY_AFTER = "1"
_CLAIM = "idempotency_claim"
_IN_USE = "idempotency_in_use"


class KeyTaken(Exception):
    """Another request with this key committed its change first: this one is rolled
    back, and answered from that one's row."""


@dataclass
class _Claim:
    """This request's key, written with its change (``doable.unit_of_work.Claim``)."""

    user_id: int
    key: str
    committed: bool = False
    _fingerprint: str | None = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        """Computed when first needed: an upload is read by its route, not before."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint()
        return self._fingerprint

    def write(self) -> None:
        connection = db.session.connection()
        now = utcnow()
        claimed = connection.execute(
            _CLAIMING[connection.dialect.name],
            {
                "user_id": self.user_id,
                "key": self.key,
                "fingerprint": self.fingerprint,
                "created_at": now,
                "expired": _expiry(now),
            },
        )
        if claimed.first() is None:
            raise KeyTaken()


@dataclass(frozen=True)
class _Kept:
    fingerprint: str
    status: int | None
    headers: dict[str, str] | None
    body: bytes | None


def _claiming(dialect: str) -> Insert:
    """Insert the claim, or take over an expired row of the same key; nothing (no row
    returned) when a live one holds it. On PostgreSQL a claim of the same key not yet
    committed is waited for, then counts as live if it commits."""
    upsert = (postgresql if dialect == "postgresql" else sqlite).insert(IdempotentRequest)
    claiming: Insert = upsert.on_conflict_do_update(
        index_elements=[IdempotentRequest.user_id, IdempotentRequest.key],
        set_={
            "fingerprint": upsert.excluded.fingerprint,
            "created_at": upsert.excluded.created_at,
            "status": null(),
            "headers": null(),
            "body": null(),
        },
        where=IdempotentRequest.created_at < bindparam("expired"),
    ).returning(IdempotentRequest.user_id)  # psycopg counts no rows for an upsert (-1)
    return claiming


_CLAIMING = {dialect: _claiming(dialect) for dialect in ("postgresql", "sqlite")}
_LOOKUP = select(
    IdempotentRequest.fingerprint,
    IdempotentRequest.status,
    IdempotentRequest.headers,
    IdempotentRequest.body,
).where(
    IdempotentRequest.user_id == bindparam("user_id", type_=Integer),
    IdempotentRequest.key == bindparam("key", type_=String),
    IdempotentRequest.created_at >= bindparam("expired"),
)


def _expiry(now: Any) -> Any:
    """Rows created before this are expired."""
    return now - timedelta(hours=settings().idempotency_key_ttl_hours)


def requested_key() -> str | None:
    """The request's ``Idempotency-Key`` (None: not sent, or not a write); 400 when
    malformed."""
    if request.method not in WRITE_METHODS:
        return None
    keys = request.headers.getlist(HEADER)
    if not keys:
        return None
    if len(keys) > 1 or not _VALID_KEY.fullmatch(keys[0]):
        raise ValidationFailed({HEADER: [INVALID_KEY]})
    return keys[0]


def fingerprint() -> str:
    """A hash of what makes a request the same one: its method, path and query, and its
    body: the raw bytes, or for a form upload its fields and files (name, file name,
    type, content), as a client building the form again sends a new boundary."""
    digest = hashlib.sha256()

    def add(part: str | bytes) -> None:
        data = part.encode("utf-8", "backslashreplace") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    add(request.method)
    add(request.path)
    add(request.query_string)
    if request.mimetype == "multipart/form-data":
        for name, value in request.form.items(multi=True):
            add(name)
            add(value)
        for name, file in request.files.items(multi=True):
            add(name)
            add(file.filename or "")
            add(file.mimetype)
            add(_content_digest(file.stream))
    else:
        add(request.get_data(cache=True))
    return digest.hexdigest()


def _content_digest(stream: Any) -> bytes:
    """The hash of a file's content, read from the start; the stream is left where it was
    (a route may have read it already, or be about to)."""
    position = stream.tell()
    stream.seek(0)
    content = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        content.update(chunk)
    stream.seek(position)
    return content.digest()


def idempotent(user_id: int, view: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``view(*args, **kwargs)``, the route of ``user_id``'s write, under the request's
    ``Idempotency-Key`` when it has one (the module's docstring). Positional-only: a
    route's own arguments may have any name (``user_id`` in a share's URL)."""
    key = requested_key()
    if key is None:
        return view(*args, **kwargs)
    this = _Claim(user_id, key)
    kept = _lookup(user_id, key)
    if kept is not None:
        return _answer(kept, this)
    claim(this)
    setattr(g, _CLAIM, this)
    try:
        return view(*args, **kwargs)
    except KeyTaken:
        return _answer(_lookup(user_id, key), this)


def _lookup(user_id: int, key: str) -> _Kept | None:
    params = {"user_id": user_id, "key": key, "expired": _expiry(utcnow())}
    row = db.session.connection().execute(_LOOKUP, params).first()
    if row is None:
        return None
    return _Kept(row.fingerprint, row.status, row.headers, row.body)


def _answer(kept: _Kept | None, this: _Claim) -> Response:
    """The answer to a request whose key has a row (``None``: it had one a moment ago,
    since gone with its user or the pruning: try again)."""
    if kept is not None and kept.fingerprint != this.fingerprint:
        raise UnprocessableContent(
            f"This {HEADER} was used for a different request (method, path or body); "
            "send a new key for a new request",
            problem_type=ProblemType.IDEMPOTENCY_KEY_REUSED,
        )
    if kept is None or kept.status is None:
        setattr(g, _IN_USE, True)
        raise Conflict(
            f"A request with this {HEADER} is still being answered; retry after "
            f"{IN_USE_RETRY_AFTER} s for its response",
            problem_type=ProblemType.IDEMPOTENCY_KEY_IN_USE,
            headers={"Retry-After": IN_USE_RETRY_AFTER},
        )
    response = current_app.response_class(kept.body or b"", kept.status)
    del response.headers["Content-Type"]  # the kept one, if it had one
    for name, value in (kept.headers or {}).items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


def keep_response(response: Response) -> Response:
    """After-request hook: keep the response of a request whose claim committed.
    Registered to run after ``drop_idle_retry_after`` (``doable.app``), so the
    ``Retry-After`` of an in-use answer stays (Flask-Limiter overwrites it, and that
    hook drops the limiter's on anything but 429 and 503)."""
    if g.pop(_IN_USE, False):
        response.headers["Retry-After"] = IN_USE_RETRY_AFTER
    this: _Claim | None = g.pop(_CLAIM, None)
    if this is None or not this.committed:
        return response
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    keeping = (
        update(IdempotentRequest)
        .where(
            IdempotentRequest.user_id == this.user_id,
            IdempotentRequest.key == this.key,
            IdempotentRequest.fingerprint == this.fingerprint,
            IdempotentRequest.status.is_(None),
        )
        .values(status=response.status_code, headers=headers, body=response.get_data())
    )
    try:
        with unit_of_work():
            db.session.connection().execute(keeping)
    except (SQLAlchemyError, DoableError):
        # The change stands; retries of this key get 409 in-use until the key expires.
        log.warning(
            "the response to %s %s was not kept", request.method, loggable_path(), exc_info=True
        )
    return response
