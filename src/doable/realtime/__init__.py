"""Real-time notifications: Socket.IO at ``/socket.io`` (docs/api.md, Real-time events).

- ``sockets``: who may connect (an access token, or the web session cookie), the one
  room each connection joins (``user:<id>``), and dropping connections whose login is
  revoked.
- ``notifier``: turns the change log's entries into events, after commit, one per entry
  of each recipient's feed, with its ``seq``, each seeing the task as the API shows it
  to them; its listener only queues the changes, ``fanout`` sends them in the background.
- ``registry``: what several processes must agree on (open sockets per user): in Redis
  when ``REDIS_URL`` is set, else in this process.

The services know nothing of this package: they log changes (``doable.changes.log``),
whose commit sends ``signals.changes_committed``; the notifier listens.
"""

from __future__ import annotations

import logging

from flask import Flask

from doable.concurrency import cooperative
from doable.extensions import init_socketio
from doable.realtime import notifier, sockets
from doable.realtime.fanout import Fanout
from doable.realtime.gate import Gate
from doable.realtime.registry import make_registry
from doable.settings import settings

__all__ = ["init_realtime", "notifier", "sockets"]


def init_realtime(app: Flask) -> None:
    config = settings(app)
    redis_url, prefix = config.redis_url, config.redis_prefix
    socketio = init_socketio(
        app,
        # Under `doable serve` (gevent) a socket is a greenlet; elsewhere (tests in one
        # process, `flask run`) a thread.
        async_mode="gevent" if cooperative() else "threading",
        # Long-polling needs every request of a session to reach this process: one
        # process, or a front that pins clients (docs/deploy.md). `doable serve`
        # refuses several workers on one port unless this is websocket only.
        transports=list(config.realtime_transports),
        # Handlers run in the connection's own greenlet, one message at a time: what a
        # client sends can never start work of its own.
        async_handlers=False,
        message_queue=redis_url,
        channel=f"{prefix}:socketio",
        # Never [] (that turns the Origin check off): same origin plus the allow-list.
        cors_allowed_origins=sockets.origin_checker(config.realtime_allowed_origins),
        manage_session=False,
        ping_interval=config.realtime_ping_interval,
        ping_timeout=20,
        max_http_buffer_size=64 * 1024,
        logger=_library_logger("socketio.server"),
        engineio_logger=_library_logger("engineio.server"),
    )
    socketio.server.eio.async_handlers = False
    sockets.register(socketio)
    app.extensions["doable.realtime"] = make_registry(
        redis_url, prefix, config.realtime_session_check
    )
    app.extensions["doable.realtime.fanout"] = Fanout(app, socketio.start_background_task)
    app.extensions["doable.realtime.gate"] = Gate(
        socketio.server,
        config.realtime_connect_timeout,
        config.realtime_max_sockets_per_address,
    )


def _library_logger(name: str) -> logging.Logger:
    """The Socket.IO libraries' logger, errors only. Handed over explicitly, because left
    to themselves they add a plain-text stderr handler of their own, which printed each
    error (a lost Redis connection) a second time, outside the JSON log of production."""
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)
    return logger
