"""The settings of one app: a frozen, typed object, built once by ``doable.config``.

Each setting's type names its parser, which turns what the environment or the caller
gave (text, JSON read from the environment, or a Python value) into that type, or stops
start-up with a ``ConfigError`` naming the variable to fix. The code reads them as
attributes of ``settings()`` (the current app's) or ``settings(app)``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin, get_type_hints

from flask import Flask, current_app
from limits import parse_many

ENV_PREFIX = "DOABLE"
#: Where ``doable.config`` keeps the settings it built, in ``app.extensions``
EXTENSION_KEY = "doable.settings"
#: Field metadata: the ``app.config`` key when it is not the upper-cased name, and the
#: variable an error names when it is not ``DOABLE_<key>``
KEY = "key"
VARIABLE = "variable"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_HOST = re.compile(r"\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\]")
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)
_ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


# --- one parser per type: (the value given, the variable's name) -> the typed value ---


def _from_digits(value: Any) -> Any:
    """``"60"`` as 60 (an override or a JSON-less variable may be text)."""
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value: Any, name: str) -> int:
    value = _from_digits(value)
    if not _is_int(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _count(value: Any, name: str) -> int:
    value = _from_digits(value)
    if not _is_int(value) or value < 0:
        raise ConfigError(f"{name} must be 0 or a positive integer, got {value!r}")
    return int(value)


def _flag(value: Any, name: str) -> bool:
    if _is_int(value) and value in (0, 1):
        value = str(value)  # from_prefixed_env parses "1" as JSON: the number 1
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        value = value.strip().lower() in _TRUE
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def _rate_limit(value: Any, name: str) -> str:
    try:
        parse_many(str(value))
    except ValueError as exc:
        raise ConfigError(
            f"{name} must be a rate limit such as '10 per minute', got {value!r}"
        ) from exc
    return str(value)


def _items(value: Any) -> Any:
    """A comma-separated string as its list of items; anything else as it is."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _origins(value: Any, name: str) -> tuple[str, ...]:
    """``scheme://host[:port]`` origins, from a list or a comma-separated string."""
    value = _items(value)
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{name} must be a list of origins, got {value!r}")
    for origin in value:
        if not (isinstance(origin, str) and _ORIGIN.fullmatch(origin)):
            raise ConfigError(
                f"{name}: {origin!r} is not an origin such as https://tasks.example.com "
                "(scheme and host, optional port, no path; '*' is not allowed)"
            )
    return tuple(origin.lower() for origin in value)


def _host_names(value: Any, name: str) -> tuple[str, ...] | None:
    """None (any host), or names from a list or a comma-separated string."""
    if value is None:
        return None
    value = _items(value)
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"{name} must be a comma-separated list of host names")
    for host in value:
        if not (isinstance(host, str) and _HOST.fullmatch(host)):
            raise ConfigError(
                f"{name}: {host!r} is not a host name such as tasks.example.com "
                "(a leading dot also allows its subdomains)"
            )
    return tuple(host.lower() for host in value)


def _transports(value: Any, name: str) -> tuple[str, ...]:
    """Socket.IO transports: ``polling`` and/or ``websocket``, list or comma-separated."""
    given = value
    if isinstance(value, str):
        value = [item.lower() for item in _items(value)]
    if (
        not isinstance(value, list | tuple)
        or "websocket" not in value
        or not set(value) <= {"polling", "websocket"}
    ):
        raise ConfigError(
            f"{name} must be websocket, or polling,websocket (the web pages use "
            f"WebSocket), got {given!r}"
        )
    return tuple(dict.fromkeys(value))


def _environment(value: Any, name: str) -> Any:
    if value not in _ENVIRONMENTS:
        raise ConfigError(f"{name} must be development, production or testing, got {value!r}")
    return value


def _redis_url(value: Any, name: str) -> str | None:
    if value and not str(value).startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name} must start with redis://, rediss:// or unix://, got {value!r}")
    return str(value) if value else None


def _text(value: Any, name: str) -> str:
    return str(value)


def _seconds(value: Any, name: str) -> float:
    """A positive number of seconds, whole or not (``"0.5"``, 60)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if isinstance(value, bool) or not 0 < seconds < 10**9:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def _schedule(value: Any, name: str) -> tuple[float, ...]:
    """Seconds to wait before each retry, in order: a list or a comma-separated string."""
    value = _items(value)
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"{name} must be a comma-separated list of seconds, got {value!r}")
    return tuple(_seconds(item, name) for item in value)


def _networks(value: Any, name: str) -> tuple[str, ...]:
    """IP networks (``10.0.0.0/8``, ``127.0.0.1``, ``fd00::/8``): a list or comma-separated."""
    value = _items(value)
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{name} must be a comma-separated list of networks, got {value!r}")
    for network in value:
        try:
            ipaddress.ip_network(str(network), strict=False)
        except ValueError:
            raise ConfigError(
                f"{name}: {network!r} is not an IP network such as 10.0.0.0/8"
            ) from None
    return tuple(str(ipaddress.ip_network(str(n), strict=False)) for n in value)


def _smtp_security(value: Any, name: str) -> Any:
    """How the SMTP connection is secured: STARTTLS, TLS from the start, or not at all."""
    if value not in ("starttls", "tls", "none"):
        raise ConfigError(f"{name} must be starttls, tls or none, got {value!r}")
    return value


PositiveInt = Annotated[int, _positive_int]
Count = Annotated[int, _count]  # 0 or more
Flag = Annotated[bool, _flag]
RateLimit = Annotated[str, _rate_limit]
Origins = Annotated[tuple[str, ...], _origins]
HostNames = Annotated[tuple[str, ...] | None, _host_names]
Transports = Annotated[tuple[str, ...], _transports]
Environment = Annotated[Literal["development", "production", "testing"], _environment]
RedisUrl = Annotated[str | None, _redis_url]
Text = Annotated[str, _text]
Seconds = Annotated[float, _seconds]
Schedule = Annotated[tuple[float, ...], _schedule]
Networks = Annotated[tuple[str, ...], _networks]
SmtpSecurity = Annotated[Literal["starttls", "tls", "none"], _smtp_security]


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Doable's own settings. A field ``x`` is read from ``app.config["X"]``, which the
    environment fills from ``DOABLE_X`` (README, Configuration)."""

    env: Environment = "development"
    access_token_ttl: PositiveInt = 900
    refresh_token_ttl: PositiveInt = 2_592_000
    ratelimit_enabled: Flag = True
    auth_rate_limit: RateLimit = "10 per minute"
    # Every authenticated API call, per user (a script may be busy; a runaway one stops)
    api_rate_limit: RateLimit = "600 per minute"
    max_upload_size: PositiveInt = 10 * 1024 * 1024
    user_quota: PositiveInt = 1024 * 1024 * 1024
    max_json_size: PositiveInt = 1024 * 1024
    # Longest URL (path and query) accepted; longer ones get a 414 problem document
    max_url_length: PositiveInt = 4096
    redis_url: RedisUrl = field(default=None, metadata={VARIABLE: "REDIS_URL"})
    # Namespaces Doable's Redis keys and its Socket.IO channel (several installs, one Redis)
    redis_prefix: Text = "doable"
    # Origins besides the server's own whose pages may open sockets (browsers send Origin)
    realtime_allowed_origins: Origins = ()
    # Seconds between Socket.IO pings: how soon a vanished client is noticed
    realtime_ping_interval: PositiveInt = 25
    # Seconds between re-checks of the logins behind this process's open sockets; also
    # the longest this process keeps a login it checked (doable.auth.logins)
    realtime_session_check: PositiveInt = 30
    # Socket.IO transports offered: long-polling (then the upgrade) and WebSocket
    realtime_transports: Transports = ("polling", "websocket")
    # Seconds an Engine.IO connection may stay open without a valid Socket.IO CONNECT
    realtime_connect_timeout: PositiveInt = 10
    # Open sockets one user may hold (all processes), and one client address (this process)
    realtime_max_sockets_per_user: PositiveInt = 50
    realtime_max_sockets_per_address: PositiveInt = 1000
    # Seconds a client may take to send a request line and headers (also the keep-alive
    # idle limit), and the body's grace period and minimum rate in bytes a second
    request_header_timeout: PositiveInt = 10
    request_body_timeout: PositiveInt = 20
    request_body_min_rate: PositiveInt = 1000
    # Per account, from any address: failed logins allowed before it slows down, then the
    # seconds to wait before the next try (doubling per failure) and their cap
    login_free_attempts: PositiveInt = 5
    login_delay: PositiveInt = 2
    login_max_delay: PositiveInt = 300
    # POST /api/token/refresh per client address (a client refreshes every 15 minutes)
    refresh_rate_limit: RateLimit = "30 per minute"
    # Shares by email per user, API and web together: each answers whether an address
    # has an account, so sweeping addresses must be slow
    share_by_email_rate_limit: RateLimit = "30 per hour"
    # Categories one user may have (made by them, or by name by their tasks' edit sharees)
    max_categories_per_user: PositiveInt = 500
    # Days the change log keeps changes (GET /api/events, /api/sync, task history); older
    # ones are pruned by `doable changes prune`
    change_retention_days: PositiveInt = 30
    # Hours the response to a write sent with an Idempotency-Key is kept for its retries
    idempotency_key_ttl_hours: PositiveInt = 24
    # Tasks one bulk action may name (POST /api/tasks/bulk, the list's bulk form)
    max_bulk_tasks: PositiveInt = 100
    # Personal API tokens one user may hold, and webhooks one user may have
    max_api_tokens_per_user: PositiveInt = 50
    max_webhooks_per_user: PositiveInt = 20
    # Networks webhooks may be sent to although they are private, loopback or
    # link-local (refused by default: docs/api.md, Webhooks), e.g. "10.1.0.0/16"
    webhook_allowed_networks: Networks = ()
    # Seconds a webhook receiver has to connect and to answer each read
    webhook_timeout: Seconds = 10.0
    # Seconds before each retry of a failed delivery (then it has failed for good)
    webhook_retry_schedule: Schedule = (60.0, 300.0, 1800.0, 7200.0, 28800.0, 86400.0)
    # Seconds of failures without a success after which a webhook is disabled
    webhook_disable_after: Seconds = 86400.0
    # Seconds the worker sleeps when it has nothing to do (a change wakes it sooner in
    # the same process, and through Redis in others)
    worker_poll_interval: Seconds = 1.0
    # Deliveries one worker process sends at once
    worker_concurrency: PositiveInt = 8
    # Reminders one task may have
    max_reminders_per_task: PositiveInt = 5
    # Seconds late a reminder may still be sent (the service was down when it was due);
    # later ones are told together in one "missed reminders" notice instead
    reminder_grace: Seconds = 3600.0
    # Notifications kept per user (the oldest go first)
    max_notifications_per_user: PositiveInt = 500
    # SMTP server for reminder and digest emails; empty: no email is sent
    smtp_host: Text = ""
    smtp_port: PositiveInt = 587
    smtp_security: SmtpSecurity = "starttls"
    smtp_username: Text = ""
    smtp_password: Text = field(default="", repr=False)
    # Seconds the SMTP server has to connect and to answer each command
    smtp_timeout: Seconds = 10.0
    # The From of every email
    mail_from: Text = "Doable <doable@localhost>"
    # The address people reach this server at, for links in emails (none when empty),
    # e.g. "https://tasks.example.com"
    public_url: Text = ""
    # Reverse proxies in front that set X-Forwarded-For/-Proto/-Host/-Port (0: none)
    proxy_hops: Count = 0
    # Host names the server answers to (None: any); e.g. "tasks.example.com"
    trusted_hosts: HostNames = None
    # Origins whose pages may call the API from a browser (CORS); none by default
    cors_origins: Origins = ()
    # Bounds on a form body (web UI): number of fields and bytes of non-file fields
    max_form_parts: PositiveInt = 200
    max_form_memory_size: PositiveInt = 500_000
    # PostgreSQL connections each worker keeps, and how many more it may open in a burst.
    # Only requests hold one (sockets do not), so this is not --threads.
    db_pool_size: PositiveInt = 10
    db_max_overflow: Count = 10
    # Seconds a request waits for a free connection before it is answered 503
    db_pool_timeout: PositiveInt = 10
    # argon2id cost (argon2-cffi's RFC 9106 low-memory profile); raising it rehashes on login
    argon2_time_cost: PositiveInt = 3
    argon2_memory_cost: PositiveInt = 65536
    argon2_parallelism: PositiveInt = 4

    # Resolved by doable.config (no parser of their own): DATABASE_URL, else SQLite in
    # the instance folder; DOABLE_UPLOAD_DIR, else the instance's uploads folder; the
    # cookie key, the JWT key and the key API tokens are hashed with, derived from
    # SECRET_KEY (DOABLE_JWT_SECRET_KEY, when set, signs JWTs with a key of its own).
    database_url: str = field(metadata={KEY: "SQLALCHEMY_DATABASE_URI"})
    upload_dir: Path
    secret_key: str = field(repr=False)
    jwt_secret_key: str = field(repr=False)
    api_token_key: str = field(repr=False)


Parser = Callable[[Any, str], Any]


def config_key(setting: Field[Any]) -> str:
    return str(setting.metadata.get(KEY, setting.name.upper()))


def variable(setting: Field[Any]) -> str:
    """The name an error gives: the environment variable that sets it."""
    return str(setting.metadata.get(VARIABLE, f"{ENV_PREFIX}_{config_key(setting)}"))


def _parsed_fields() -> list[tuple[Field[Any], Parser]]:
    hints = get_type_hints(Settings, include_extras=True)
    return [
        (setting, hints[setting.name].__metadata__[0])
        for setting in fields(Settings)
        if get_origin(hints[setting.name]) is Annotated
    ]


_PARSED = _parsed_fields()


def config_value(value: Any) -> Any:
    """A setting as ``app.config`` has always held it: lists, and paths as text."""
    if isinstance(value, tuple):
        return list(value)
    return str(value) if isinstance(value, Path) else value


def defaults() -> dict[str, Any]:
    """The parsed settings' defaults, keyed like ``app.config``."""
    return {config_key(setting): config_value(setting.default) for setting, _ in _PARSED}


def parse(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that have a parser, read from ``raw`` (keyed like ``app.config``),
    in the order they are declared; the first malformed one raises ``ConfigError``."""
    return {
        setting.name: parser(raw[config_key(setting)], variable(setting))
        for setting, parser in _PARSED
    }


def as_config(built: Settings) -> dict[str, Any]:
    """Every setting, keyed and shaped as ``app.config`` holds it."""
    return {
        config_key(setting): config_value(getattr(built, setting.name)) for setting in fields(built)
    }


def settings(app: Flask | None = None) -> Settings:
    """The settings ``doable.config.load_config`` built for ``app`` (default: the current app)."""
    built: Settings = (current_app if app is None else app).extensions[EXTENSION_KEY]
    return built
