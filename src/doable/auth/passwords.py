"""Password hashing with argon2id; its cost comes from configuration.

A hash takes tens of milliseconds of CPU: it runs through ``run_blocking``, off the
gevent loop, so the other connections of the worker keep being served meanwhile."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from doable.concurrency import run_blocking
from doable.settings import settings

_DUMMY_PASSWORD = "not-a-real-password-used-to-equalise-timing"  # noqa: S105


def _hasher() -> PasswordHasher:
    state = current_app.extensions.setdefault("doable.passwords", {})
    if "hasher" not in state:
        cost = settings()
        hasher = PasswordHasher(
            time_cost=cost.argon2_time_cost,
            memory_cost=cost.argon2_memory_cost,
            parallelism=cost.argon2_parallelism,
        )
        dummy_hash = run_blocking(hasher.hash, _DUMMY_PASSWORD)  # other requests run here
        # The dummy hash before the hasher: whoever finds the hasher finds both.
        state["dummy_hash"] = dummy_hash
        state["hasher"] = hasher
    built: PasswordHasher = state["hasher"]
    return built


def hash_password(password: str) -> str:
    return run_blocking(_hasher().hash, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and say no."""
    hasher = _hasher()
    if password_hash is None:
        dummy = current_app.extensions["doable.passwords"]["dummy_hash"]
        with contextlib.suppress(VerificationError, InvalidHashError):
            run_blocking(hasher.verify, dummy, password)
        return False
    try:
        return run_blocking(hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
