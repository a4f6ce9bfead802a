"""Per-account login throttling: after a few failed logins an account slows down.

The per-address limit (``DOABLE_AUTH_RATE_LIMIT``) does not stop a guesser with many
addresses; this one counts failures on the account itself, wherever they come from.
After ``LOGIN_FREE_ATTEMPTS`` failures in a row, each further attempt must wait
``LOGIN_DELAY`` seconds after the previous one, doubled per failure up to
``LOGIN_MAX_DELAY``; an attempt that comes too early is refused (429, ``Retry-After``)
without checking the password, so it costs no hashing. A successful login resets it.

The same count guards every check of a password by an account's owner: logging in,
and the current password that changing the email or password and deleting the account
ask for (a stolen token must not make those a faster way to guess).

An attacker must not lock the owner out: the networks the account last logged in from
(``KNOWN_NETWORKS`` of them, an IPv4 address or an IPv6 /64 each) are exempt, so the
owner at home or at the office logs in however long the guessing goes on; there only
the per-address limit applies. From a new network the owner waits like anyone, at most
``LOGIN_MAX_DELAY`` between tries. Existing logins (tokens, web sessions) are untouched.

The state lives on the user's row: every process and worker sees it with or without
Redis, it survives restarts, and claiming an attempt is one compare-and-set UPDATE, so
parallel guesses cannot slip in together past the limit.
"""

from __future__ import annotations

import math
from datetime import timedelta

from flask import has_request_context
from sqlalchemy import update

from doable.auth.models import User
from doable.db import utcnow
from doable.errors import ProblemType, TooManyRequests
from doable.extensions import db
from doable.limits import client_address_key
from doable.settings import settings
from doable.unit_of_work import unit_of_work

#: How many networks of recent successful logins an account remembers.
KNOWN_NETWORKS = 5

#: Attempts lost to concurrent ones before giving up and asking the client to wait.
_CLAIM_TRIES = 3


def claim_login_attempt(user: User) -> None:
    """Count a login attempt on ``user`` before its password is checked (committed, so
    other processes see it at once), or raise ``TooManyRequests`` if it must wait."""
    if not settings().ratelimit_enabled or _network() in _known(user):
        return
    for _ in range(_CLAIM_TRIES):
        failures = user.login_failures
        _refuse_if_early(failures, user)
        with unit_of_work():  # committed whatever the password turns out to be
            claimed = db.session.execute(
                update(User)
                .where(User.id == user.id, User.login_failures == failures)
                .values(
                    login_failures=failures + 1,
                    login_failed_at=utcnow(),
                    updated_at=User.updated_at,  # a login attempt is not a profile change
                )
            )
        # An ORM UPDATE also updates ``user`` itself: a success then sees the count to reset.
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            return
        db.session.refresh(user)  # another attempt counted meanwhile
    raise TooManyRequests(
        _DETAIL, problem_type=ProblemType.LOGIN_SLOWED_DOWN, headers={"Retry-After": "1"}
    )


def forget_login_failures(user: User) -> None:
    """After the right password (flushed; committed with what it allowed): the count
    starts again, and the caller's network is remembered as the account's own."""
    network = _network()
    known = _known(user)
    networks = known if network is None else [network, *(n for n in known if n != network)]
    networks = networks[:KNOWN_NETWORKS]
    if user.login_failures or user.login_failed_at is not None or networks != known:
        db.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                login_failures=0,
                login_failed_at=None,
                login_networks=" ".join(networks) or None,
                updated_at=User.updated_at,
            )
        )


def _network() -> str | None:
    """The caller's network, as the rate limits count it (an IPv6 client by its /64)."""
    return client_address_key() if has_request_context() else None


def _known(user: User) -> list[str]:
    return (user.login_networks or "").split()


_DETAIL = "Too many failed logins for this account; wait before trying again"


def _refuse_if_early(failures: int, user: User) -> None:
    config = settings()
    over = failures - config.login_free_attempts
    if over < 0 or user.login_failed_at is None:
        return
    delay = min(config.login_delay * 2 ** min(over, 32), config.login_max_delay)
    wait = (user.login_failed_at + timedelta(seconds=delay) - utcnow()).total_seconds()
    if wait > 0:
        raise TooManyRequests(
            _DETAIL,
            problem_type=ProblemType.LOGIN_SLOWED_DOWN,
            headers={"Retry-After": str(math.ceil(wait))},
        )
