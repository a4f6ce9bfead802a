"""Attachment use cases. Bytes are stored before the row is committed and removed
only after the row's deletion is: a row never points at a missing file (a file
without a row is possible after a crash, and ``doable attachments gc`` removes it)."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from doable import signals
from doable.attachments.models import Attachment
from doable.attachments.storage import storage
from doable.auth.models import User
from doable.changes.log import Recorded, record
from doable.db import begin_write, valid_id
from doable.errors import BadRequest, NotFound, PayloadTooLarge, ProblemType
from doable.extensions import db
from doable.settings import settings
from doable.tasks.access import Access, get_task_for, task_or_guard
from doable.tasks.models import Task
from doable.unit_of_work import publish, use_case

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_NAME = 255
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")
_UNSAFE_NAME_CHARS = set("\"'<>`\\/")


def list_attachments(
    *, user: User, task_id: int | None = None, task: Task | None = None
) -> list[Attachment]:
    """The task's attachments; a page that has already read ``task`` as ``user`` passes
    it, and the access check is not run again."""
    task = task_or_guard(user=user, task_id=task_id, task=task, need=Access.VIEW)
    query = select(Attachment).where(Attachment.task_id == task.id).order_by(Attachment.id)
    return list(db.session.scalars(query))


@use_case
def may_upload(*, user: User, task_id: int) -> Task:
    """Refuse (404 / 403) an upload from its URL alone, before its body is read: nobody
    can make the server receive a large file for a task they may not edit. Then end the
    transaction, so no database connection is held while the body arrives (a slow
    client may take minutes)."""
    return get_task_for(user=user, task_id=task_id, need=Access.EDIT)


def upload_attachment(*, user: User, task_id: int, file: FileStorage) -> Attachment:
    """Stream the upload to storage while hashing and counting it, then record it."""
    task = may_upload(user=user, task_id=task_id)  # nothing held while the file is copied
    digest, counted = hashlib.sha256(), [0]
    key = storage().save(_limited_chunks(file.stream, digest, counted))
    stored = Attachment(
        task_id=task.id,
        user_id=user.id,
        filename=display_name(file.filename),
        content_type=declared_type(file.mimetype),
        size=counted[0],
        sha256=digest.hexdigest(),
        storage_key=key,
    )
    try:
        return _record(stored, owner_id=task.user_id)
    except BaseException:
        storage().delete(key)  # its row was rolled back: no row points at the file
        raise


@use_case
def _record(attachment: Attachment, *, owner_id: int) -> Attachment:
    """Add the row of a stored file, if the owner's quota has room for it."""
    if attachment.size == 0:
        raise BadRequest(
            "The file is empty",
            problem_type=ProblemType.EMPTY_FILE,
            errors={"file": ["The file is empty."]},
        )
    _check_quota(owner_id=owner_id, adding=attachment.size)
    db.session.add(attachment)
    db.session.flush()  # its id, for the log
    _log(attachment, "attachment_added", [None, _logged(attachment)])
    return attachment


def open_attachment(*, user: User, task_id: int, attachment_id: int) -> tuple[Attachment, BinaryIO]:
    attachment = get_attachment(user=user, task_id=task_id, attachment_id=attachment_id)
    try:
        return attachment, storage().open(attachment.storage_key)
    except FileNotFoundError:  # e.g. restored from a backup taken while it was deleted
        log.error("attachment %s: stored file %s is missing", attachment.id, attachment.storage_key)
        raise NotFound(
            f"The file of attachment {attachment_id} is missing from storage",
            problem_type=ProblemType.ATTACHMENT_NOT_FOUND,
        ) from None


@use_case
def delete_attachment(*, user: User, task_id: int, attachment_id: int) -> Attachment:
    """Delete the attachment; its file is removed once that commits."""
    attachment = get_attachment(
        user=user, task_id=task_id, attachment_id=attachment_id, need=Access.EDIT
    )
    db.session.delete(attachment)
    publish(signals.files_released, storage_keys=[attachment.storage_key])
    _log(attachment, "attachment_deleted", [_logged(attachment), None], actor_id=user.id)
    return attachment  # as it was: a page names what it deleted


def _logged(attachment: Attachment) -> dict[str, Any]:
    """An attachment as its change is logged."""
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
    }


def _log(
    attachment: Attachment, action: str, change: list[Any], actor_id: int | None = None
) -> None:
    """Log an attachment added or deleted, for everyone who can see its task."""
    record(
        Recorded(
            entity="attachment",
            entity_id=attachment.id,
            task_id=attachment.task_id,
            action=action,
            changes={"attachment": change},
            actor_id=attachment.user_id if actor_id is None else actor_id,
        )
    )


def stored_files(*, task_ids: list[int] | None = None, owner_id: int | None = None) -> list[str]:
    """The storage keys of the attachments of these tasks, or of every task of
    ``owner_id``: read before deleting the rows, to release the files after commit."""
    query = select(Attachment.storage_key).join(Task, Task.id == Attachment.task_id)
    if task_ids is not None:
        query = query.where(Attachment.task_id.in_(task_ids))
    if owner_id is not None:
        query = query.where(Task.user_id == owner_id)
    return list(db.session.scalars(query))


def collect_garbage() -> int:
    """Remove stored files no row points at; return how many."""
    known = set(db.session.scalars(select(Attachment.storage_key)))
    orphans = [key for key in storage().stored_keys() if key not in known]
    for key in orphans:
        storage().delete(key)
    return len(orphans)


def display_name(raw: str | None) -> str:
    """The client's file name made safe to show and to put in a header: no path, no
    control characters (CR/LF included), no quotes or angle brackets, bounded length."""
    name = unicodedata.normalize("NFC", re.split(r"[\\/]", raw or "")[-1])
    name = "".join(ch for ch in name if ch.isprintable() and ch not in _UNSAFE_NAME_CHARS)
    name = name.strip().strip(".").strip()
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        keep = extension[:16] if dot and stem else ""
        name = name[: MAX_NAME - len(keep) - 1] + "." + keep if keep else name[:MAX_NAME]
    return name or "file"


def declared_type(raw: str | None) -> str:
    value = (raw or "").strip().lower()
    return value if len(value) <= 255 and _CONTENT_TYPE.match(value) else "application/octet-stream"


def _limited_chunks(stream: IO[bytes], digest: Any, counted: list[int]) -> Iterator[bytes]:
    limit = settings().max_upload_size
    while chunk := stream.read(CHUNK):
        counted[0] += len(chunk)
        if counted[0] > limit:
            raise PayloadTooLarge(
                f"The file is larger than the limit of {limit} bytes",
                problem_type=ProblemType.FILE_TOO_LARGE,
            )
        digest.update(chunk)
        yield chunk


def _check_quota(*, owner_id: int, adding: int) -> None:
    """Refuse (413) a file that would take the owner past their quota. Uploads to one
    owner's tasks take turns from here to their commit (``begin_write`` on the owner's
    row), so racing ones see each other's files and never exceed it together."""
    begin_write(db.session, select(User.id).where(User.id == owner_id))
    quota = settings().user_quota
    used = db.session.scalar(
        select(func.coalesce(func.sum(Attachment.size), 0))
        .join(Task, Task.id == Attachment.task_id)
        .where(Task.user_id == owner_id)
    )
    if int(used or 0) + adding > quota:
        raise PayloadTooLarge(
            f"Storage quota exceeded: the task owner uses {used} of {quota} bytes "
            f"and this file needs {adding} more",
            problem_type=ProblemType.STORAGE_QUOTA_EXCEEDED,
        )


def get_attachment(
    *, user: User, task_id: int, attachment_id: int, need: Access = Access.VIEW
) -> Attachment:
    """The task's attachment if ``user`` has ``need`` on the task (404/403 as for tasks)."""
    get_task_for(user=user, task_id=task_id, need=need)
    attachment = db.session.get(Attachment, attachment_id) if valid_id(attachment_id) else None
    if attachment is None or attachment.task_id != task_id:
        raise NotFound(
            f"Attachment {attachment_id} not found", problem_type=ProblemType.ATTACHMENT_NOT_FOUND
        )
    return attachment


@signals.files_released.connect
def _remove_files(sender: Any, storage_keys: list[str], **_: Any) -> None:
    """After commit: a failure leaves files for ``doable attachments gc``."""
    store = storage()
    for key in storage_keys:
        store.delete(key)
