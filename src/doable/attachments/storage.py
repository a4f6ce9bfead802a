"""Where attachment bytes live. The interface is what an S3-compatible store would
implement; the filesystem implementation keeps files under ``DOABLE_UPLOAD_DIR``."""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app

from doable.errors import InsufficientStorage
from doable.settings import settings

_KEY = re.compile(r"[0-9a-f]{32}")  # always fullmatch: "$" would accept a final "\n"
#: A full disk, or the user's disk quota (a filesystem's, not Doable's ``USER_QUOTA``).
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
log = logging.getLogger(__name__)


class Storage(Protocol):
    def save(self, chunks: Iterable[bytes]) -> str:
        """Store the bytes; return a new key. Nothing is left behind if ``chunks`` raises,
        nor when the store is full (``InsufficientStorage``)."""

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None:
        """Remove the bytes; a key that is already gone is not an error."""

    def stored_keys(self) -> Iterable[str]: ...


class FileSystemStorage:
    """Files named by random keys, two levels deep: ``<root>/ab/ab12…``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def save(self, chunks: Iterable[bytes]) -> str:
        try:
            return self._save(chunks)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            log.error("attachment storage is full: %s (%s)", exc.strerror, self.root)
            raise InsufficientStorage(
                "There is no room left to store this file; try again later"
            ) from None

    def _save(self, chunks: Iterable[bytes]) -> str:
        staging = self.root / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=staging)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            key = secrets.token_hex(16)
            target = self._path(key)
            target.parent.mkdir(exist_ok=True)
            os.replace(temp_name, target)  # same filesystem: atomic
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def stored_keys(self) -> Iterable[str]:
        for path in self.root.glob("[0-9a-f][0-9a-f]/*"):
            if _KEY.fullmatch(path.name):
                yield path.name

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("not a storage key")
        return self.root / key[:2] / key


def storage() -> Storage:
    """The app's storage (one per app, built on first use)."""
    if "doable.storage" not in current_app.extensions:
        current_app.extensions["doable.storage"] = FileSystemStorage(settings().upload_dir)
    built: Storage = current_app.extensions["doable.storage"]
    return built
