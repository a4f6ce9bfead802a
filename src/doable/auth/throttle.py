"""Per-account login throttling: after a few failed logins an account slows down.

The per-address limit (``DOABLE_AUTH_RATE_LIMIT``) does not stop a guesser with many
addresses; this one counts failures on the account itself, wherever they come from.
After ``LOGIN_FREE_ATTEMPTS`` failures in a row, each further attempt must wait
``LOGIN_DELAY`` seconds after the previous one, doubled per failure up to
``LOGIN_MAX_DELAY``; an attempt that comes too early is refused (429, ``Retry-After``)
without checking the password, so it costs no hashing. A successful login resets it.

The count lives on the user's row: every process and worker sees it with or without
Redis, it survives restarts, and claiming an attempt is one compare-and-set UPDATE, so
parallel guesses cannot slip in together past the limit. The real user waits at most
``LOGIN_MAX_DELAY`` between tries however long an attacker keeps going, and their
existing logins (tokens, web sessions) are untouched.
"""

from __future__ import annotations

import math
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from doable.auth.models import User
from doable.db import utcnow
from doable.errors import ProblemType, TooManyRequests
from doable.extensions import db

#: Attempts lost to concurrent ones before giving up and asking the client to wait.
_CLAIM_TRIES = 3


def claim_login_attempt(user: User) -> None:
    """Count a login attempt on ``user`` before its password is checked (committed, so
    other processes see it at once), or raise ``TooManyRequests`` if it must wait."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return
    for _ in range(_CLAIM_TRIES):
        failures = user.login_failures
        _refuse_if_early(failures, user)
        claimed = db.session.execute(
            update(User)
            .where(User.id == user.id, User.login_failures == failures)
            .values(
                login_failures=failures + 1,
                login_failed_at=utcnow(),
                updated_at=User.updated_at,  # a login attempt is not a profile change
            )
        )
        db.session.commit()
        # An ORM UPDATE also updates ``user`` itself: a success then sees the count to reset.
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return
        db.session.refresh(user)  # another attempt counted meanwhile
    raise TooManyRequests(
        _DETAIL, problem_type=ProblemType.LOGIN_SLOWED_DOWN, headers={"Retry-After": "1"}
    )


def forget_login_failures(user: User) -> None:
    """After a successful login (flushed; committed with the new session)."""
    if user.login_failures or user.login_failed_at is not None:
        db.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(login_failures=0, login_failed_at=None, updated_at=User.updated_at)
        )


_DETAIL = "Too many failed logins for this account; wait before trying again"


def _refuse_if_early(failures: int, user: User) -> None:
    config = current_app.config
    over = failures - config["LOGIN_FREE_ATTEMPTS"]
    if over < 0 or user.login_failed_at is None:
        return
    delay = min(config["LOGIN_DELAY"] * 2 ** min(over, 32), config["LOGIN_MAX_DELAY"])
    wait = (user.login_failed_at + timedelta(seconds=delay) - utcnow()).total_seconds()
    if wait > 0:
        raise TooManyRequests(
            _DETAIL,
            problem_type=ProblemType.LOGIN_SLOWED_DOWN,
            headers={"Retry-After": str(math.ceil(wait))},
        )
