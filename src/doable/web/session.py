"""Who is signed in to the web UI, and the cookie that says so.

A web login is a login session row, like an API login: the signed cookie carries the
user's id and the session's id (``doable.auth.cookie``; the real-time layer reads them
too), and every request checks them with ``load_session_user``, the check behind every
door. A revoked login (logout elsewhere, password change) is signed out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, Response, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from sqlalchemy import inspect
from sqlalchemy.orm.exc import ObjectDeletedError

from doable.auth import service as auth_service
from doable.auth.cookie import SESSION_KEY, USER_KEY
from doable.auth.logins import caller_deleted
from doable.auth.models import AuthSession, User
from doable.auth.tokens import load_session_user

_UNSET = object()


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked ``Secure`` whenever the page came over HTTPS."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """A request without the cookie (every API call) gets an empty session at once:
        Flask's own builds the cookie's signer first, for nothing."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app) or request.is_secure)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """An answer that read a signed-in cookie, or sets or clears one, is about its
        holder: no cache keeps it (the rest of that rule is in ``doable.security``; this runs
        after every hook). Pages that only could have read it (every template can) stay
        as they were for a visitor without one: they know nobody."""
        if not (session or session.modified or session.accessed):
            return  # nothing to write nor to say (Flask's would read its cookie settings first)
        super().save_session(app, session, response)
        if session.accessed and (session or session.modified):
            response.headers["Cache-Control"] = "no-store"


def signed_in_user() -> User | None:
    """The user of this request's live web login, or None (read once per request).

    Requests without the cookie (every API call) cost nothing: no query is made.
    """
    user: User | None = g.get("web_user", _UNSET)
    if user is _UNSET:
        user = None
        if USER_KEY in session:
            user = load_session_user(session.get(USER_KEY), session.get(SESSION_KEY))
            if user is None:  # revoked, expired or the account is gone
                session.clear()
        g.web_user = user
    return user


def sign_in(auth_session: AuthSession) -> None:
    """Start a web login on a fresh cookie (no state survives from before: fixation)."""
    session.clear()
    session[USER_KEY] = auth_session.user_id
    session[SESSION_KEY] = auth_session.id
    g.pop("web_user", None)


def sign_out() -> None:
    session_id = session.get(SESSION_KEY)
    if isinstance(session_id, str):
        auth_service.logout(session_id=session_id)
    session.clear()
    g.web_user = None


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``view(user, **kwargs)`` for a signed-in user; send anyone else to log in."""

    @functools.wraps(view)
    def wrapper(**kwargs: Any) -> Any:
        user = signed_in_user()
        if user is None:
            if request.method == "GET":
                return redirect(url_for("web.auth.login", next=request.full_path.rstrip("?")))
            flash("Please log in again.", "error")
            return redirect(url_for("web.auth.login"))
        try:
            return view(user, **kwargs)
        except ObjectDeletedError:  # the account, deleted unannounced? (doable.auth.logins)
            if not caller_deleted(inspect(user).identity[0]):  # user.id raises: row gone
                raise
            session.clear()
            return redirect(url_for("web.auth.login"))

    return wrapper


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects).

    Browsers read ``//host`` and ``/\\host`` as other sites and drop tabs and newlines,
    so any of those, a scheme or a host makes the target unsafe.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ch.isspace() or not ch.isprintable() for ch in target):
        return None
    parts = urlsplit(target)
    return target if not (parts.scheme or parts.netloc) else None
