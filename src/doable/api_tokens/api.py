"""API token routes (docs/api.md, API tokens). They take a login's access token only: an
API token can neither mint nor list nor revoke tokens."""

from __future__ import annotations

from typing import Any

from doable.api import Blueprint
from doable.api.auth import auth_required, current_user
from doable.api_tokens import service
from doable.api_tokens.schemas import ApiTokenCreate, ApiTokenList, NewApiTokenRead

bp = Blueprint("api_tokens", __name__, url_prefix="/api", description="Personal API tokens")


@bp.post("/tokens")
@auth_required
@bp.arguments(ApiTokenCreate)
@bp.response(201, NewApiTokenRead)
@bp.alt_response(409, response="CONFLICT")
def create_token(data: dict[str, Any]) -> Any:
    """Create a personal API token for scripts; the token is in this answer only

    409 (`api-token-limit-reached`, with `limit`) when you already hold
    DOABLE_MAX_API_TOKENS_PER_USER tokens (50 by default).
    """
    return service.create_token(user=current_user, **data)


@bp.get("/tokens")
@auth_required
@bp.response(200, ApiTokenList)
def list_tokens() -> Any:
    """Your API tokens, newest first (never the tokens themselves)"""
    return {"tokens": service.list_tokens(user=current_user)}


@bp.delete("/tokens/<int:token_id>")
@auth_required
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def revoke_token(token_id: int) -> None:
    """Revoke an API token: refused from the next request on, in every process"""
    service.revoke_token(user=current_user, token_id=token_id)
