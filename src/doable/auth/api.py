"""Account and token routes (docs/api.md, Authentication)."""

from __future__ import annotations

from typing import Any

from flask import request

from doable.api import Blueprint
from doable.api.auth import auth_required, current_user
from doable.auth import service
from doable.auth.schemas import (
    PASSWORD_CHECKED,
    LoginCreate,
    RefreshCreate,
    RegistrationRead,
    TokenRead,
    UserCreate,
    UserDelete,
    UserRead,
    UserUpdate,
)
from doable.auth.tokens import login_session_id
from doable.extensions import limiter
from doable.settings import settings

bp = Blueprint("auth", __name__, url_prefix="/api", description="Accounts and tokens")


def auth_rate_limit() -> str:
    return settings().auth_rate_limit


def refresh_rate_limit() -> str:
    return settings().refresh_rate_limit


auth_limit = limiter.shared_limit(auth_rate_limit, scope="auth")
#: Refreshing needs no password but is as open as login: its own bucket per address,
#: so a team behind one address refreshing every 15 minutes never meets the login limit.
refresh_limit = limiter.shared_limit(refresh_rate_limit, scope="refresh")


def _checks_no_password() -> bool:
    """A ``PATCH /api/me`` that changes only preferences checks no password: it does not
    spend the login budget. A body that is not an object is counted (and refused)."""
    body = request.get_json(silent=True)
    return isinstance(body, dict) and not PASSWORD_CHECKED & body.keys()


#: The login limit for the account changes that check the current password.
password_limit = limiter.shared_limit(
    auth_rate_limit, scope="auth", exempt_when=_checks_no_password
)


@bp.post("/register")
@auth_limit
@bp.arguments(UserCreate)
@bp.response(201, RegistrationRead)
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def register(data: dict[str, Any]) -> dict[str, Any]:
    """Create an account"""
    user = service.register_user(**data)
    return {"user_id": user.id}


@bp.post("/login")
@auth_limit
@bp.arguments(LoginCreate)
@bp.response(200, TokenRead)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def login(data: dict[str, Any]) -> Any:
    """Log in with email (or username) and password; get an access and a refresh token"""
    return service.login(**data)


@bp.post("/token/refresh")
@refresh_limit
@bp.arguments(RefreshCreate)
@bp.response(200, TokenRead)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def refresh(data: dict[str, Any]) -> Any:
    """Trade a refresh token for a new access token and a rotated refresh token"""
    return service.refresh(refresh_token=data["refresh_token"])


@bp.post("/logout")
@auth_required
@bp.response(204)
def logout() -> None:
    """Revoke this access token and its refresh token"""
    service.logout(session_id=login_session_id())


@bp.get("/me")
@auth_required
@bp.response(200, UserRead)
def read_me() -> Any:
    """The caller's profile"""
    return current_user


@bp.patch("/me")
@auth_required
@password_limit  # a call that checks a password is limited like login
@bp.arguments(UserUpdate)
@bp.response(200, UserRead)
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
def update_me(data: dict[str, Any]) -> Any:
    """Change email or password (current password required; a new password logs out
    everywhere), or the time zone, reminder channels and digest time (no password)"""
    if PASSWORD_CHECKED & data.keys():
        return service.update_account(user=current_user, **data)
    return service.update_preferences(user=current_user, **data)


@bp.delete("/me")
@auth_required
@auth_limit  # each call checks a password: limited like login
@bp.arguments(UserDelete)
@bp.response(204)
def delete_me(data: dict[str, Any]) -> None:
    """Delete the account and everything it owns (current password required)"""
    service.delete_account(user=current_user, **data)
