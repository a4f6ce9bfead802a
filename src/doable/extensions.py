"""Extension objects, created unbound and bound to an app in ``create_app``.

Models and services import from here, never from the app, so there are no cycles.
"""

import ipaddress
import re
from http import HTTPStatus
from typing import Any

import redis
from apispec.ext.marshmallow import MarshmallowPlugin, resolve_schema_cls
from flask import Flask
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api as _SmorestApi
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis.backoff import NoBackoff
from redis.retry import Retry

from doable.db import Base
from doable.errors import render_http_exception
from doable.openapi import OperationConventions
from doable.schemas import ProblemSchema

#: Schemas in these roles are responses, and a response carries every field of its
#: schema, always (``null`` where a field may be empty): the document says so.
RESPONSE_ROLES = ("Read", "List", "Page", "Created")


class SchemaRulesPlugin(MarshmallowPlugin):
    """Adds a schema's ``json_schema_rules`` (JSON Schema keywords for the rules its
    ``@validates_schema`` hooks check, such as "exactly one of" or "at least one field")
    to its component, so the document states every rule the API enforces; and marks every
    field of a response schema required."""

    def schema_helper(self, name: Any, _: Any, schema: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        json_schema = super().schema_helper(name, _, schema=schema, **kwargs)
        if json_schema is None or schema is None:
            return json_schema
        schema_cls = resolve_schema_cls(schema)
        json_schema.update(getattr(schema_cls, "json_schema_rules", None) or {})
        if getattr(schema_cls, "__name__", "").endswith(RESPONSE_ROLES):
            json_schema["required"] = list(json_schema.get("properties", {}))
        return json_schema


class Api(_SmorestApi):
    """flask-smorest's Api, with errors rendered and documented as Problem Details."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return render_http_exception(error)

    def _register_responses(self):
        """Document every error response as ``application/problem+json``."""
        problem = {"application/problem+json": {"schema": "ProblemSchema"}}
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = problem
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {"description": "Error (Problem Details)", "content": problem},
            lazy=True,
        )

    def _register_pagination_header(self):
        """Not used: pages are described by the list schemas (``TaskPage``)."""


# Objects stay readable after commit: a request serialises what it just wrote.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
jwt = JWTManager()
api = Api(
    spec_kwargs={
        "marshmallow_plugin": SchemaRulesPlugin(),
        "extra_plugins": [OperationConventions()],
    }
)


def client_address_key() -> str:
    """Rate-limit key of the client's address (behind ``DOABLE_PROXY_HOPS`` proxies, the
    one they forwarded): an IPv6 address stands for its /64, which one subscriber or
    host usually holds whole, so hopping between its addresses earns no fresh bucket."""
    address = get_remote_address()
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # without an IPv6 zone
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


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
    url = app.config["REDIS_URL"]
    client = None
    if url:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=1,
            socket_timeout=1,
            retry=Retry(NoBackoff(), 1),
            client_name=re.sub(r"[^!-~]", "_", f"{app.config['REDIS_PREFIX']}:app"),
        )
    app.extensions["doable.redis"] = client
    return client
