"""Socket connections: who may connect, the room each joins, and ending them.

A client connects with ``auth={"token": "<token>"}`` (or, with no ``auth``, an
``Authorization: Bearer <token>`` header), the token a login's access token or a
personal API token holding ``events:read``; a browser page of ours connects with
neither and is known by its session cookie. Either way the login behind it must be
live (``load_session_user``, the check every door uses; for an API token, the token
must still exist and not have expired), and the connection joins ``user:<id>``, its
only room. When that login is revoked, or the API token deleted, the connection is
dropped, whichever process holds it; a token that merely expires is dropped at the next
periodic re-check (``DOABLE_REALTIME_SESSION_CHECK``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request, session
from flask_socketio import ConnectionRefusedError, SocketIO, join_room
from jwt import ExpiredSignatureError, PyJWTError
from sqlalchemy.exc import SQLAlchemyError

from doable import signals
from doable.api_tokens.models import TOKEN_PREFIX
from doable.api_tokens.service import (
    SOCKET_LOGIN_PREFIX,
    find_grant,
    live_socket_logins,
    record_use,
)
from doable.api_tokens.service import socket_login as api_token_login
from doable.auth.cookie import SESSION_KEY, USER_KEY
from doable.auth.tokens import live_session_ids, load_session_user, login_ids, read_token
from doable.db import utcnow
from doable.extensions import db
from doable.realtime.gate import Gate, end_session
from doable.realtime.registry import Registry
from doable.settings import settings

log = logging.getLogger(__name__)

_SOCKET_USER = "doable.socket_user_id"
_ENGINE_SID = "doable.engine_sid"
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: What a personal API token needs to open a socket: the events it carries.
SOCKET_SCOPE = "events:read"


def room_of(user_id: int) -> str:
    return f"user:{user_id}"


def registry(app: Flask | None = None) -> Registry:
    found: Registry = (app or current_app).extensions["doable.realtime"]
    return found


def gate(app: Flask | None = None) -> Gate:
    found: Gate = (app or current_app).extensions["doable.realtime.gate"]
    return found


def server(app: Flask | None = None) -> Any:
    return (app or current_app).extensions["socketio"].server


class Refused(ConnectionRefusedError):
    """A refused connection. Its ``connect_error`` says why and whether to retry:
    ``{"message": ..., "data": {"reason": ..., "retry": true|false}}``; the README's
    "Real-time notifications" lists every reason and what a client should do."""

    def __init__(self, reason: str, message: str, *, retry: bool = False) -> None:
        super().__init__(message, {"reason": reason, "retry": retry})


def _unavailable() -> Refused:
    return Refused(
        "unavailable", "Real-time notifications are briefly unavailable; retry later", retry=True
    )


def register(socketio: SocketIO) -> None:
    socketio.on_event("connect", connect)
    socketio.on_event("disconnect", disconnect)
    socketio.on_event("*", unexpected_event)


def connect(auth: Any = None) -> None:
    """Accept the connection into its user's room, or refuse it (``connect_error``)."""
    user_id, session_id = _credentials(auth)
    sid = request.sid  # type: ignore[attr-defined]
    eio_sid = server().manager.eio_sid_from_sid(sid, "/")
    # (Flask-SocketIO's test client opens no Engine.IO session the gate could see.)
    gated = gate().is_open(eio_sid)
    if gate().sessions_from(eio_sid) > settings().realtime_max_sockets_per_address:
        raise Refused(
            "address_socket_limit",
            "Too many open connections from your address; close some and retry",
            retry=True,
        )
    try:
        # Registered before the check, so a logout racing this connect either finds the
        # socket (and drops it) or commits first (and the check below fails).
        registry().add(user_id, sid, session_id)
        held = registry().count(user_id)
    except Exception:
        log.exception("socket registry unavailable")
        raise _unavailable() from None
    if held > settings().realtime_max_sockets_per_user:
        _forget(user_id, sid)
        raise Refused(
            "user_socket_limit",
            "You have too many open connections; close some and retry",
            retry=True,
        )
    try:
        live = _still_live(user_id, session_id)
    except SQLAlchemyError:
        _forget(user_id, sid)
        log.warning("socket refused: the database did not answer")
        raise _unavailable() from None
    if not live:
        _forget(user_id, sid)
        raise Refused("revoked", "This login has ended; log in again")
    if gated and not gate().is_open(eio_sid):
        # Closed meanwhile (its deadline passed during a slow check): python-socketio
        # calls no disconnect for a connection still being accepted, so clean up here.
        _forget(user_id, sid)
        raise _unavailable()
    # The connection's environ lives as long as the connection: disconnect reads it back.
    request.environ[_SOCKET_USER] = user_id
    request.environ[_ENGINE_SID] = eio_sid
    _local().add(sid, user_id, session_id)
    gate().admitted(eio_sid)
    join_room(room_of(user_id))


def _still_live(user_id: int, session_id: str) -> bool:
    """Whether the login a connection claims is live, read from the database now."""
    if session_id.startswith(SOCKET_LOGIN_PREFIX):
        return bool(live_socket_logins({session_id}))
    return load_session_user(user_id, session_id, fresh=True) is not None


def unexpected_event(event: str, *_: Any) -> None:
    """The server expects no events from clients: one that sends any is not ours, and is
    disconnected rather than served."""
    sid = request.sid  # type: ignore[attr-defined]
    log.info("socket %s sent an event (%.40r): disconnected", sid, event)
    # The whole Engine.IO connection, not only the namespace: nothing stays open.
    end_session(server(), server().manager.eio_sid_from_sid(sid, "/"))


def _forget(user_id: int, sid: str) -> None:
    try:
        registry().remove(user_id, sid)
    except Exception:  # the entry expires; a refused socket never held a room
        log.warning("could not unregister refused socket %s", sid)


def disconnect(reason: Any = None) -> None:
    sid = request.sid  # type: ignore[attr-defined]
    user_id = request.environ.get(_SOCKET_USER)
    _local().discard(sid)
    eio_sid = request.environ.pop(_ENGINE_SID, None)
    if eio_sid is not None:  # an Engine.IO session left open must connect again, or go
        gate().rearm(eio_sid)
    if user_id is not None:
        try:
            registry().remove(user_id, sid)
        except Exception:  # no process vouches for it any more: it stops counting
            log.warning("could not unregister socket %s", sid)


class LocalSockets:
    """The sockets this process holds and their logins, re-checked every
    ``DOABLE_REALTIME_SESSION_CHECK`` seconds: a revocation whose drop message was lost
    (Redis away at that moment), or a login that simply expired, ends its sockets too;
    the rest are vouched for in the registry, so they keep counting against their
    user's cap while entries of a process that died stop counting, and are put back
    there if Redis lost them (a restart without persistence, a flush): events reach
    them again, and their client reads what it missed from its feed at the next
    ``seq`` jump."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.sessions: dict[str, tuple[int, str]] = {}  # socket id -> (user, login session)
        self.started = False

    def add(self, sid: str, user_id: int, session_id: str) -> None:
        with self.lock:
            self.sessions[sid] = (user_id, session_id)
            start, self.started = not self.started, True
        if start:
            self.app.extensions["socketio"].start_background_task(self._check_while_held)

    def discard(self, sid: str) -> None:
        with self.lock:
            self.sessions.pop(sid, None)

    def _check_while_held(self) -> None:
        """Runs while this process holds a socket; the next ``add`` starts it again."""
        interval = settings(self.app).realtime_session_check
        while True:
            time.sleep(interval)
            with self.lock:
                if not self.sessions:
                    self.started = False
                    return
            try:
                self.drop_ended()
            except Exception:  # the database is away: try again next time
                log.warning("could not re-check the logins of open sockets", exc_info=True)
            try:
                self.vouch()
            except Exception:  # Redis is away: the entries are vouched for next time
                log.warning("could not vouch for this process's sockets", exc_info=True)

    def drop_ended(self) -> None:
        with self.lock:
            held = dict(self.sessions)
        if not held:
            return
        logins = {session_id for _, session_id in held.values()}
        api_tokens = {login for login in logins if login.startswith(SOCKET_LOGIN_PREFIX)}
        with self.app.app_context():
            live = set(live_session_ids(logins - api_tokens)) | live_socket_logins(api_tokens)
            db.session.remove()
        for sid, (_, session_id) in held.items():
            if session_id not in live:
                log.info("socket %s dropped: its login ended", sid)
                server(self.app).disconnect(sid, namespace="/")
                self.discard(sid)

    def vouch(self) -> None:
        """Vouch for every socket held (putting back any Redis lost), under the lock: a
        socket closing meanwhile waits in ``discard``, so its disconnect removes it
        after this, never before (which would put a closed socket back)."""
        with self.lock:
            by_user: dict[int, dict[str, str]] = defaultdict(dict)
            for sid, (user_id, session_id) in self.sessions.items():
                by_user[user_id][sid] = session_id
            for user_id, held in by_user.items():
                registry(self.app).touch(user_id, held)


def _local() -> LocalSockets:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    local = app.extensions.get("doable.realtime.local")
    if local is None:
        local = app.extensions["doable.realtime.local"] = LocalSockets(app)
    return local


def close_local_sockets(app: Flask) -> None:
    """Close every socket this process holds (shutting down): clients reconnect to
    another worker or instance instead of holding this one open until it is killed."""
    for eio_sid in list(server(app).eio.sockets):
        end_session(server(app), eio_sid)


def _credentials(auth: Any) -> tuple[int, str]:
    """The (user id, login session id) a connection claims, from its token (in ``auth``
    or the ``Authorization`` header) or cookie. An API token's "session" is the token
    (``api_tokens.service.socket_login``)."""
    if auth is None or auth == {}:
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            return _from_token(_bearer(authorization))
        user_id, session_id = session.get(USER_KEY), session.get(SESSION_KEY)
        if user_id is None or session_id is None:
            raise Refused(
                "auth_required", 'Authentication required: connect with auth={"token": "<token>"}'
            )
        return _checked(user_id, session_id)
    if not isinstance(auth, dict) or set(auth) != {"token"} or not isinstance(auth["token"], str):
        raise Refused("invalid_auth", 'Send auth={"token": "<access token>"} and nothing else')
    return _from_token(auth["token"])


def _bearer(authorization: str) -> str:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused("invalid_auth", "Send 'Authorization: Bearer <token>'")
    return token.strip()


def _from_token(token: str) -> tuple[int, str]:
    if token.startswith(TOKEN_PREFIX):
        return _from_api_token(token)
    try:
        claims = read_token(token)
    except ExpiredSignatureError:
        raise Refused(
            "token_expired",
            "The access token has expired: refresh it (POST /api/token/refresh), then connect",
        ) from None
    except PyJWTError:
        raise Refused("invalid_token", "Invalid token") from None
    if claims.get("type") != "access":
        raise Refused("invalid_token", "Not an access token")
    return _checked(claims.get("sub"), claims.get("sid"))


def _from_api_token(token: str) -> tuple[int, str]:
    """A personal API token's (user id, socket login): it must be live and hold
    ``events:read``."""
    try:
        grant = find_grant(token)
    except SQLAlchemyError:
        log.warning("socket refused: the database did not answer")
        raise _unavailable() from None
    if grant is None:
        raise Refused("invalid_token", "Invalid token: unknown or revoked API token")
    if grant.expired(utcnow()):
        raise Refused("token_expired", "The API token has expired: create another one")
    if SOCKET_SCOPE not in grant.scopes:
        raise Refused("insufficient_scope", f"This API token lacks the scope '{SOCKET_SCOPE}'")
    record_use(grant)
    return grant.user_id, api_token_login(grant.token_id)


def _checked(user_id: Any, session_id: Any) -> tuple[int, str]:
    ids = login_ids(user_id, session_id)
    if ids is None:
        raise Refused("invalid_token", "Invalid token")
    return ids


def origin_checker(allowed: Iterable[str]) -> Callable[[str | None, dict[str, Any]], bool]:
    """Flask-SocketIO's Origin check: the server's own origin, plus the allow-list.

    A browser always sends ``Origin`` on a WebSocket; a foreign page must not be able to
    open one with the user's cookie (cross-site WebSocket hijacking). Origins are
    compared as (scheme, host, port) with default ports filled in, so the page
    ``https://tasks.example.com`` matches a proxy's ``Host: tasks.example.com:443``.
    """
    extra = {key for key in map(_origin_key, allowed) if key}

    def allowed_origin(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser: it authenticates with a token
        scheme = environ.get("wsgi.url_scheme", "http")
        own = _origin_key(f"{scheme}://{environ.get('HTTP_HOST', '')}")
        key = _origin_key(origin)
        return key is not None and (key == own or key in extra)

    return allowed_origin


def _origin_key(origin: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


@signals.sessions_revoked.connect
def _drop_revoked(sender: Flask, user_id: int, session_ids: list[str] | None, **_: Any) -> None:
    """Disconnect the sockets of logins that just ended, in whichever process holds them."""
    ended = None if session_ids is None else set(session_ids)
    for sid, session_id in registry(sender).sockets(user_id).items():
        if ended is None or session_id in ended:
            server(sender).disconnect(sid, namespace="/")
            registry(sender).remove(user_id, sid)
