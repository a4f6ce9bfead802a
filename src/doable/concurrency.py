"""Blocking work under ``doable serve``, where every connection is a greenlet of one
gevent worker: whether this process cooperates so, and a way to run what would block
the others (argon2's hashing, a database statement) in gevent's thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import gevent
from gevent import monkey

T = TypeVar("T")


def cooperative() -> bool:
    """True in a gevent worker (the standard library is monkey-patched)."""
    return bool(monkey.is_module_patched("socket"))


def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)``, in gevent's thread pool when other greenlets must keep
    running meanwhile (it must release the GIL, as argon2's C code does). What it
    raises is raised here, as a direct call would (and not also printed by the pool,
    as an exception escaping a pool task would be: a wrong password is no error)."""
    if not cooperative():
        return function(*args)
    outcome: tuple[T, BaseException | None] = gevent.get_hub().threadpool.apply(
        _outcome, (function, args)
    )
    result, error = outcome
    if error is not None:
        raise error
    return result


def _outcome(
    function: Callable[..., T], args: tuple[Any, ...]
) -> tuple[T | None, Exception | None]:
    try:
        return function(*args), None
    except Exception as error:
        return None, error
