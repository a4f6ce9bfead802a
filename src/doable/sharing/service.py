"""Sharing use cases: only a task's owner shares it or removes shares; a sharee may
remove their own share (leave the task)."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from limits import parse
from sqlalchemy import select

from doable.auth.models import User
from doable.auth.service import find_user
from doable.changes.log import record_task
from doable.db import valid_id
from doable.errors import BadRequest, Conflict, NotFound, ProblemType, TooManyRequests
from doable.extensions import db, limiter
from doable.settings import settings
from doable.sharing.models import Share
from doable.tasks.access import Access, get_task_for, task_or_guard
from doable.tasks.models import Task
from doable.tasks.schemas import OwnerRead, task_data
from doable.unit_of_work import on_conflict, use_case

log = logging.getLogger(__name__)
_BY_EMAIL = "share-by-email"


def list_shares(*, user: User, task_id: int | None = None, task: Task | None = None) -> list[Share]:
    """The task's shares, for its owner; a page that has already read ``task`` as
    ``user`` passes it, and the access check is not run again (unless not the owner)."""
    task = task_or_guard(user=user, task_id=task_id, task=task, need=Access.OWNER)
    query = select(Share).where(Share.task_id == task.id).order_by(Share.created_at, Share.user_id)
    return list(db.session.scalars(query))


@use_case
def share_task(
    *,
    user: User,
    task_id: int,
    permission: str,
    username: str | None = None,
    email: str | None = None,
) -> tuple[Share, bool]:
    """Share the task, or change the permission of an existing share.

    Returns the share and whether it is new.
    """
    task = get_task_for(user=user, task_id=task_id, need=Access.OWNER)
    if email is not None:
        _spend_share_by_email(user)
    other = _sharee(task, username=username, email=email)
    share = db.session.get(Share, (task_id, other.id))
    created = share is None
    before = None if share is None else share.permission
    if share is None:
        share = Share(task_id=task_id, user_id=other.id, user=other, permission=permission)
        db.session.add(share)
    share.permission = permission
    on_conflict(  # the same share made by a concurrent request
        Conflict(
            f"Task {task_id} was just shared with '{other.username}'; retry",
            problem_type=ProblemType.CONCURRENT_UPDATE,
        )
    )
    if before != permission:
        # The new sharee is shown the task as they now see it: nothing before this
        # change is in their feed.
        shown = {"task": {**task_data(task), "access": permission}} if created else None
        record_task(
            task.id,
            task.version,
            "shared" if created else "share_updated",
            {
                "shared_with": [None if created else _named(other), _named(other)],
                "permission": [before, permission],
            },
            actor_id=user.id,
            audience={task.user_id: None, other.id: shown},  # the owner and that sharee
        )
    return share, created


@use_case
def unshare_task(*, user: User, task_id: int, user_id: int) -> Task:
    """Remove a share: the owner removes anyone's; a sharee removes only their own (leaves).

    The change goes to the feeds of the owner and of the user who lost access (the
    real-time ``task_unshared``, to the owner with who it was).
    """
    leaving = user_id == user.id
    task = get_task_for(user=user, task_id=task_id, need=Access.VIEW if leaving else Access.OWNER)
    share = db.session.get(Share, (task_id, user_id)) if valid_id(user_id) else None
    if share is None:
        raise NotFound(
            f"Task {task_id} is not shared with user {user_id}",
            problem_type=ProblemType.SHARE_NOT_FOUND,
        )
    db.session.delete(share)
    record_task(
        task.id,
        task.version,
        "unshared",
        {"shared_with": [_named(share.user), None], "permission": [share.permission, None]},
        actor_id=user.id,
        audience={task.user_id: None, user_id: None},  # the owner and the former sharee
    )
    return task


def _named(user: User) -> dict[str, Any]:
    named: dict[str, Any] = OwnerRead().dump(user)
    return named


def _sharee(task: Task, *, username: str | None, email: str | None) -> User:
    """The user to share ``task`` with: an existing user, not its owner."""
    other = find_user(username=username, email=email)
    if other is None:
        raise NotFound(
            f"User '{username or email}' not found", problem_type=ProblemType.USER_NOT_FOUND
        )
    if other.id == task.user_id:
        raise BadRequest(
            "You cannot share a task with yourself",
            problem_type=ProblemType.CANNOT_SHARE_WITH_SELF,
        )
    return other


def _spend_share_by_email(user: User) -> None:
    """Sharing by email tells whether an address has an account, and its username: such
    shares have a budget of their own per user (``DOABLE_SHARE_BY_EMAIL_RATE_LIMIT``),
    far below the API's, whichever door (API, page) they come through. Counted in the
    rate limits' storage; when that does not answer, the share goes through uncounted,
    as every limit does."""
    if not limiter.enabled:
        return
    budget = parse(settings().share_by_email_rate_limit)
    key = f"user:{user.id}"
    try:
        if limiter.limiter.hit(budget, _BY_EMAIL, key):
            return
        reset_at, _ = limiter.limiter.get_window_stats(budget, _BY_EMAIL, key)
    except Exception:  # the storage (Redis) is away
        log.warning("share-by-email budget not counted: its storage did not answer")
        return
    wait = max(1, math.ceil(reset_at - time.time()))
    raise TooManyRequests(
        f"Too many shares by email (at most {budget}); share by username, or retry later",
        headers={"Retry-After": str(wait)},
    )
