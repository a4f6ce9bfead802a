"""Extension objects, created unbound and bound to an app in ``create_app``.

Models and services import from here, never from the app, so there are no cycles. The
API's (flask-smorest's ``Api``) lives with the OpenAPI document it writes, in
``doable.openapi``.
"""

import re
from typing import Any

import redis
from flask import Flask
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis.backoff import NoBackoff
from redis.retry import Retry

from doable.db import Base
from doable.limits import client_address_key
from doable.settings import settings

# Objects stay readable after commit: a request serialises what it just wrote.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
jwt = JWTManager()
limiter = Limiter(key_func=client_address_key)
#: Every state-changing request needs a token, but for the API's blueprints (app.py):
#: they authenticate with bearer tokens only and never read cookies.
csrf = CSRFProtect()


def init_socketio(app: Flask, **options: Any) -> SocketIO:
    """Flask-SocketIO bound to ``app``; read it back as ``app.extensions["socketio"]``.

    One object per app rather than one shared like the others: a ``SocketIO`` holds a
    single server and merges each ``init_app``'s options into the last ones, so two apps
    in one process (tests) would otherwise share a server and a message queue.
    """
    return SocketIO(app, **options)


def init_redis(app: Flask) -> redis.Redis | None:
    """This app's Redis client (one connection pool), when ``REDIS_URL`` is set; read it
    back as ``app.extensions["doable.redis"]``. It connects on first use, not here.

    Its connections are named after ``REDIS_PREFIX`` (``CLIENT LIST`` shows whose they
    are). A command is tried once more on a fresh connection, at once: a pooled one may
    have died with a Redis restart, and a real outage still answers within seconds.
    """
    url, prefix = settings(app).redis_url, settings(app).redis_prefix
    client = None
    if url:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=1,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 1),
            client_name=re.sub(r"[^!-~]", "_", f"{prefix}:app"),
        )
    app.extensions["doable.redis"] = client
    return client
