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

from flask import current_app
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from doable import signals
from doable.attachments.models import Attachment
from doable.attachments.storage import storage
from doable.auth.models import User
from doable.db import begin_write, valid_id
from doable.errors import BadRequest, NotFound, PayloadTooLarge, ProblemType
from doable.extensions import db
from doable.tasks.access import Access, get_task_for
from doable.tasks.models import Task

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_NAME = 255
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")
_UNSAFE_NAME_CHARS = set("\"'<>`\\/")


def list_attachments(*, user: User, task_id: int) -> list[Attachment]:
    get_task_for(user, task_id, Access.VIEW)
    query = select(Attachment).where(Attachment.task_id == task_id).order_by(Attachment.id)
    return list(db.session.scalars(query))


def may_upload(*, user: User, task_id: int) -> None:
    """Refuse (404 / 403) an upload from its URL alone, before its body is read: nobody
    can make the server receive a large file for a task they may not edit. Then end the
    transaction, so no database connection is held while the body arrives (a slow
    client may take minutes)."""
    get_task_for(user, task_id, Access.EDIT)
    db.session.commit()


def upload_attachment(*, user: User, task_id: int, file: FileStorage) -> Attachment:
    """Stream the upload to storage while hashing and counting it, then record it."""
    task = get_task_for(user, task_id, Access.EDIT)
    db.session.commit()  # nothing held while the file is copied
    digest, counted = hashlib.sha256(), [0]
    key = storage().save(_limited_chunks(file.stream, digest, counted))
    try:
        size = counted[0]
        if size == 0:
            raise BadRequest(
                "The file is empty",
                problem_type=ProblemType.EMPTY_FILE,
                errors={"file": ["The file is empty."]},
            )
        _check_quota(owner_id=task.user_id, adding=size)
        attachment = Attachment(
            task_id=task.id,
            user_id=user.id,
            filename=display_name(file.filename),
            content_type=declared_type(file.mimetype),
            size=size,
            sha256=digest.hexdigest(),
            storage_key=key,
        )
        db.session.add(attachment)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        storage().delete(key)
        raise
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


def delete_attachment(*, user: User, task_id: int, attachment_id: int) -> None:
    attachment = get_attachment(
        user=user, task_id=task_id, attachment_id=attachment_id, need=Access.EDIT
    )
    _remove_files_after_commit([attachment.storage_key])
    db.session.delete(attachment)
    db.session.commit()


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
    limit = current_app.config["MAX_UPLOAD_SIZE"]
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
    quota = current_app.config["USER_QUOTA"]
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
    get_task_for(user, task_id, need)
    attachment = db.session.get(Attachment, attachment_id) if valid_id(attachment_id) else None
    if attachment is None or attachment.task_id != task_id:
        raise NotFound(
            f"Attachment {attachment_id} not found", problem_type=ProblemType.ATTACHMENT_NOT_FOUND
        )
    return attachment


def _remove_files_after_commit(keys: list[str]) -> None:
    if not keys:
        return
    store = storage()

    def remove() -> None:
        for key in keys:
            store.delete(key)

    signals.after_commit(db.session(), remove)


@signals.task_deleting.connect
def _on_task_deleting(sender: Any, task_ids: list[int], **kwargs: Any) -> None:
    query = select(Attachment.storage_key).where(Attachment.task_id.in_(task_ids))
    _remove_files_after_commit(list(db.session.scalars(query)))


@signals.account_deleting.connect
def _on_account_deleting(sender: Any, user_id: int, **kwargs: Any) -> None:
    query = (
        select(Attachment.storage_key)
        .join(Task, Task.id == Attachment.task_id)
        .where(Task.user_id == user_id)
    )
    _remove_files_after_commit(list(db.session.scalars(query)))
