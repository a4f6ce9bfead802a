"""The application factory. It only wires: no I/O, no migrations, no network."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_cors import CORS
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.middleware.proxy_fix import ProxyFix

from doable import health, openapi, web
from doable.api import Blueprint as ApiBlueprint
from doable.api import IdConverter
from doable.api.auth import BEARER_AUTH
from doable.api.parsing import check_api_body
from doable.api_tokens import api as api_tokens_api
from doable.api_tokens import views as api_tokens_views
from doable.attachments import api as attachments_api
from doable.attachments import views as attachments_views
from doable.auth import api as auth_api
from doable.auth import views as auth_views
from doable.auth.logins import init_logins
from doable.auth.token_cache import init_token_cache
from doable.auth.tokens import register_jwt_callbacks
from doable.calendar_feed import api as calendar_feed_api
from doable.calendar_feed import views as calendar_feed_views
from doable.categories import api as categories_api
from doable.categories import views as categories_views
from doable.changes import api as changes_api
from doable.changes import views as changes_views
from doable.changes.idempotency import HEADER as IDEMPOTENCY_KEY
from doable.changes.idempotency import REPLAYED, keep_response
from doable.commands import register_commands
from doable.config import instance_path_from_env, load_config
from doable.errors import register_error_handlers
from doable.extensions import csrf, db, init_redis, jwt, limiter, migrate
from doable.limits import drop_idle_retry_after
from doable.logs import assign_request_id, configure_logging, send_request_id
from doable.notifications import api as notifications_api
from doable.notifications import views as notifications_views
from doable.openapi import api
from doable.realtime import init_realtime
from doable.reminders import models as reminder_models  # noqa: F401  (tables the worker fills)
from doable.security import add_security_headers, check_url_length
from doable.settings import settings
from doable.sharing import api as sharing_api
from doable.sharing import views as sharing_views
from doable.tasks import agenda_views as task_agenda_views
from doable.tasks import api as tasks_api
from doable.tasks import done_views as task_done_views
from doable.tasks import time_views as task_time_views
from doable.tasks import views as tasks_views
from doable.wakeups import init_wakeups
from doable.web.session import CookieSessionInterface
from doable.webhooks import api as webhooks_api
from doable.webhooks import views as webhooks_views

log = logging.getLogger(__name__)
MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")
#: What a page on an allowed origin may send and read (tokens, not cookies: no credentials).
CORS_OPTIONS: dict[str, Any] = {
    "allow_headers": [
        "Authorization",
        "Content-Type",
        "If-Match",
        "If-None-Match",
        IDEMPOTENCY_KEY,
    ],
    "expose_headers": [
        "ETag",
        REPLAYED,
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
    register_request_rules(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    trust_proxies(app)
    return app


def register_request_rules(app: Flask) -> None:
    """Our rules for every request and response, registered before any extension's hook:
    before-request hooks run in the order registered, after-request hooks in reverse. So
    a request has its id before anything may refuse it (the refusal quotes it), and ours
    are the last word on the response's headers, in this order: its id, then the rest
    (a write's response is kept for its ``Idempotency-Key`` after Retry-After is settled)."""
    app.before_request(assign_request_id)
    app.before_request(check_url_length)
    app.before_request(check_api_body)
    app.after_request(add_security_headers)
    app.after_request(keep_response)
    app.after_request(drop_idle_retry_after)
    app.after_request(send_request_id)


def trust_proxies(app: Flask) -> None:
    """Behind ``DOABLE_PROXY_HOPS`` reverse proxies, read the client's address, scheme and
    host from their ``X-Forwarded-*`` headers. Applied last, around Socket.IO too, so its
    Origin check compares with the public origin."""
    hops = settings(app).proxy_hops
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


def release_session(_: BaseException | None = None) -> None:
    """End the request's session. Its connection may have died after the response was
    built (the database restarted): closing then fails on the rollback, and that must not
    turn a finished answer into a 500. SQLAlchemy has already invalidated the connection;
    drop the session, and the pool opens a fresh connection next time."""
    try:
        db.session.remove()
    except SQLAlchemyError:
        log.warning("the database connection was lost as the request ended", exc_info=True)
        db.session.registry.clear()


def register_extensions(app: Flask) -> None:
    app.json.sort_keys = False  # type: ignore[attr-defined]
    db.init_app(app)
    app.teardown_appcontext(release_session)  # runs before Flask-SQLAlchemy's own
    init_redis(app)
    init_wakeups(app)
    init_logins(app)
    init_token_cache(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    jwt.init_app(app)
    register_jwt_callbacks(app)
    limiter.init_app(app)
    origins = list(settings(app).cors_origins)
    if origins:  # off unless origins are listed
        CORS(app, resources={r"/api/*": {"origins": origins}}, **CORS_OPTIONS)
    csrf.init_app(app)
    app.session_interface = CookieSessionInterface()
    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}], "info": API_INFO})
    api.spec.components.security_scheme("bearerAuth", BEARER_AUTH["bearerAuth"])
    init_realtime(app)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.assets)
    api.register_blueprint(auth_api.bp)
    api.register_blueprint(tasks_api.bp)
    api.register_blueprint(categories_api.bp)
    api.register_blueprint(sharing_api.bp)
    api.register_blueprint(attachments_api.bp)
    api.register_blueprint(changes_api.bp)
    api.register_blueprint(api_tokens_api.bp)
    api.register_blueprint(webhooks_api.bp)
    api.register_blueprint(notifications_api.bp)
    api.register_blueprint(calendar_feed_api.bp)
    for blueprint in app.blueprints.values():
        if isinstance(blueprint, ApiBlueprint):  # bearer tokens only, never cookies
            csrf.exempt(blueprint)
    register_pages(app)


def register_pages(app: Flask) -> None:
    """Each domain's pages, under the blueprint named ``web`` (endpoints ``web.tasks.detail``)."""
    pages = (
        auth_views,
        tasks_views,
        task_time_views,
        task_done_views,
        task_agenda_views,
        sharing_views,
        attachments_views,
        categories_views,
        changes_views,
        api_tokens_views,
        webhooks_views,
        notifications_views,
        calendar_feed_views,
    )
    app.register_blueprint(web.blueprint(*(area.bp for area in pages)))
