"""Sharing routes: share, list shares, unshare or leave (docs/api.md, Sharing)."""

from __future__ import annotations

from typing import Any

from doable.api import Blueprint
from doable.api.auth import auth_required, current_user
from doable.sharing import service
from doable.sharing.schemas import ShareCreate, ShareList, ShareRead

bp = Blueprint("sharing", __name__, url_prefix="/api/tasks", description="Sharing tasks")


@bp.post("/<int:task_id>/share")
@auth_required(scope="tasks:write")
@bp.arguments(ShareCreate)
@bp.response(201, ShareRead)
@bp.alt_response(200, schema=ShareRead, description="The share existed; permission changed")
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
def share_task(data: dict[str, Any], task_id: int) -> Any:
    """Share a task with another user (owner only); sharing again changes the permission

    Sharing by ``email`` has a budget of its own per user (DOABLE_SHARE_BY_EMAIL_RATE_LIMIT,
    30 per hour by default), since the answer tells whether an address has an account:
    over it, 429 with Retry-After. By ``username`` only the API's budget applies.
    """
    share, created = service.share_task(user=current_user, task_id=task_id, **data)
    return share, 201 if created else 200


@bp.get("/<int:task_id>/share")
@auth_required(scope="tasks:read")
@bp.response(200, ShareList)
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
def list_shares(task_id: int) -> Any:
    """Who the task is shared with (owner only)"""
    return {"shares": service.list_shares(user=current_user, task_id=task_id)}


@bp.delete("/<int:task_id>/share/<int:user_id>")
@auth_required(scope="tasks:write")
@bp.response(204)
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
def unshare_task(task_id: int, user_id: int) -> None:
    """Stop sharing a task with a user (owner), or leave a task shared with you (your own id)"""
    service.unshare_task(user=current_user, task_id=task_id, user_id=user_id)
