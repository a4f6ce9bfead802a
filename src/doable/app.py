"""The application factory. It only wires: no I/O, no migrations, no network."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from doable import health, web
from doable.api.parsing import BEARER_AUTH, Blueprint, IdConverter
from doable.attachments import api as attachments_api
from doable.auth import api as auth_api
from doable.auth.tokens import register_jwt_callbacks
from doable.categories import api as categories_api
from doable.config import instance_path_from_env, load_config
from doable.errors import register_error_handlers
from doable.extensions import api, csrf, db, init_redis, jwt, limiter, migrate
from doable.logs import configure_logging
from doable.realtime import init_realtime
from doable.security import register_request_hooks
from doable.sharing import api as sharing_api
from doable.tasks import api as tasks_api
from doable.web.session import CookieSessionInterface

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")
#: What a page on an allowed origin may send and read (tokens, not cookies: no credentials).
CORS_OPTIONS: dict[str, Any] = {
    "allow_headers": ["Authorization", "Content-Type", "If-Match", "If-None-Match"],
    "expose_headers": [
        "ETag",
        "Location",
        "Retry-After",
        "X-Request-Id",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ],
    "supports_credentials": False,
    "max_age": 600,
}
API_INFO = {
    "description": "Errors are Problem Details documents; each kind of problem has its own "
    "`type`, listed under the `Problem` schema.",
    "license": {"name": "MIT", "identifier": "MIT"},
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=instance_path_from_env(), instance_relative_config=True)
    load_config(app, config)
    configure_logging(app)
    # First, so request ids exist before any extension's hook runs, and our response
    # rules run after theirs (after-request hooks run in reverse order).
    register_request_hooks(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    trust_proxies(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Behind ``DOABLE_PROXY_HOPS`` reverse proxies, read the client's address, scheme and
    host from their ``X-Forwarded-*`` headers. Applied last, around Socket.IO too, so its
    Origin check compares with the public origin."""
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


def register_extensions(app: Flask) -> None:
    app.json.sort_keys = False  # type: ignore[attr-defined]
    db.init_app(app)
    init_redis(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    jwt.init_app(app)
    register_jwt_callbacks(app)
    limiter.init_app(app)
    if app.config["CORS_ORIGINS"]:  # off unless origins are listed
        CORS(app, resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}}, **CORS_OPTIONS)
    csrf.init_app(app)
    app.session_interface = CookieSessionInterface()
    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}], "info": API_INFO})
    api.spec.components.security_scheme("bearerAuth", BEARER_AUTH["bearerAuth"])
    init_realtime(app)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    app.register_blueprint(health.bp)
    api.register_blueprint(auth_api.bp)
    api.register_blueprint(tasks_api.bp)
    api.register_blueprint(categories_api.bp)
    api.register_blueprint(sharing_api.bp)
    api.register_blueprint(attachments_api.bp)
    for blueprint in app.blueprints.values():
        if isinstance(blueprint, Blueprint):  # bearer tokens only, never cookies
            csrf.exempt(blueprint)
    app.register_blueprint(web.bp)


def register_cli(app: Flask) -> None:
    from doable.cli import register_commands

    register_commands(app)
