"""Real Socket.IO and HTTP clients for the real-time tests, every wait bounded."""

from __future__ import annotations

import itertools
import queue
import threading
import uuid
from typing import Any

import requests
import socketio
from flask import Flask

from doable.realtime.fanout import fanout
from tests.support.factories import HTTP_WAIT, PASSWORD, Account

WAIT = HTTP_WAIT  # the longest any test waits for one thing to happen
QUIET = 0.5  # how long "nothing arrives" is watched, after proof that delivery works
_names = itertools.count(1)


def sent(app: Flask) -> None:
    """Wait until ``app`` has sent every event queued so far (events leave the request
    through a background queue: ``doable.realtime.fanout``)."""
    assert fanout(app).drain(WAIT) == 0, f"queued events were not sent within {WAIT}s"


def new_user(base: str, prefix: str = "rt") -> Account:
    return register(base, f"{prefix}{next(_names)}_{uuid.uuid4().hex[:6]}")


def register(base: str, name: str) -> Account:
    """Register ``name`` (password ``PASSWORD``) on the server at ``base``, logged in."""
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    registered = requests.post(f"{base}/api/register", json=body, timeout=WAIT)
    assert registered.status_code == 201, registered.text
    return log_in(base, name, registered.json()["user_id"])


def log_in(base: str, username: str, user_id: int) -> Account:
    body = {"username": username, "password": PASSWORD}
    login = requests.post(f"{base}/api/login", json=body, timeout=WAIT)
    assert login.status_code == 200, login.text
    tokens = login.json()
    return Account(
        id=user_id,
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        token=tokens["token"],
        refresh_token=tokens["refresh_token"],
        base=base,
    )


class Listener:
    """A python-socketio client that records every event it is sent."""

    def __init__(self, origin: str | None = None) -> None:
        # websocket-client sends the URL's own origin unless told another one
        options = {"origin": origin} if origin else {}
        self.client = socketio.Client(reconnection=False, websocket_extra_options=options)
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.disconnected = threading.Event()
        self.client.on("*", lambda event, data=None: self.events.put((event, data)))
        self.client.on("disconnect", lambda *args: self.disconnected.set())

    def connect(self, base: str, auth: Any = None, wait: float = WAIT):
        self.client.connect(base, auth=auth, transports=["websocket"], wait_timeout=wait)
        return self

    def next(self, timeout: float = WAIT) -> tuple[str, Any]:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout}s") from None

    def expect(self, event: str, timeout: float = WAIT) -> Any:
        """The next event, which must be ``event``; its payload."""
        name, data = self.next(timeout)
        assert name == event, f"expected {event}, got {name}: {data}"
        return data

    def assert_quiet(self, window: float = QUIET) -> None:
        try:
            name, data = self.events.get(timeout=window)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected event {name}: {data}")

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def listen(user: Account, base: str | None = None) -> Listener:
    return Listener().connect(base or user.base, auth={"token": user.token})


def refused(base: str, auth: Any = None, origin: str | None = None) -> dict[str, Any]:
    """Connect, expecting a refusal: what the server said, as
    ``{"message": ..., "reason": ..., "retry": ...}`` (reason and retry are None when the
    refusal carried none, as the Origin check's does)."""
    listener = Listener(origin)
    messages: list[Any] = []
    listener.client.on("connect_error", lambda data=None: messages.append(data))
    try:
        listener.connect(base, auth=auth)
    except socketio.exceptions.ConnectionError as exc:
        data = messages[0] if messages else None
        if isinstance(data, dict):
            extra = data.get("data") or {}
            return {
                "message": str(data.get("message")),
                "reason": extra.get("reason"),
                "retry": extra.get("retry"),
            }
        return {"message": str(data or exc), "reason": None, "retry": None}
    listener.close()
    raise AssertionError("the connection was accepted")
