"""One settings object: defaults, then the environment, then the caller's overrides.

Read once when the app is built. A malformed value stops start-up with an error that
names the environment variable to fix.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from flask import Config, Flask
from limits import parse_many

from doable.concurrency import cooperative

ENV_PREFIX = "DOABLE"
MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 8
#: Labels of the keys derived from SECRET_KEY: one signs JWTs, the other cookies (and
#: whatever else Flask signs), so a key recovered from one use does not forge the other.
JWT_KEY_LABEL = "doable jwt signing key v1"
COOKIE_KEY_LABEL = "doable cookie signing key v1"
NEW_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_HOST = re.compile(r"\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\]")
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)

DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "ACCESS_TOKEN_TTL": 900,
    "REFRESH_TOKEN_TTL": 2_592_000,
    "RATELIMIT_ENABLED": True,
    "AUTH_RATE_LIMIT": "10 per minute",
    # Every authenticated API call, per user (a script may be busy; a runaway one stops)
    "API_RATE_LIMIT": "600 per minute",
    "MAX_UPLOAD_SIZE": 10 * 1024 * 1024,
    "USER_QUOTA": 1024 * 1024 * 1024,
    "MAX_JSON_SIZE": 1024 * 1024,
    # Longest URL (path and query) accepted; longer ones get a 414 problem document
    "MAX_URL_LENGTH": 4096,
    "UPLOAD_DIR": None,
    "REDIS_URL": None,
    # Signs JWTs; None: derived from SECRET_KEY (set it to sign them with a key of its own)
    "JWT_SECRET_KEY": None,
    # The web UI's session cookie: hidden from scripts, not sent with cross-site POSTs
    # (and marked Secure whenever the page came over HTTPS: web/session.py)
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # A form's CSRF token is good for as long as the login that showed it
    "WTF_CSRF_TIME_LIMIT": None,
    # Namespaces Doable's Redis keys and its Socket.IO channel (several installs, one Redis)
    "REDIS_PREFIX": "doable",
    # Origins besides the server's own whose pages may open sockets (browsers send Origin)
    "REALTIME_ALLOWED_ORIGINS": [],
    # Seconds between Socket.IO pings: how soon a vanished client is noticed
    "REALTIME_PING_INTERVAL": 25,
    # Seconds between re-checks of the logins behind this process's open sockets
    "REALTIME_SESSION_CHECK": 30,
    # Socket.IO transports offered: long-polling (then the upgrade) and WebSocket
    "REALTIME_TRANSPORTS": ["polling", "websocket"],
    # Seconds an Engine.IO connection may stay open without a valid Socket.IO CONNECT
    "REALTIME_CONNECT_TIMEOUT": 10,
    # Open sockets one user may hold (all processes), and one client address (this process)
    "REALTIME_MAX_SOCKETS_PER_USER": 50,
    "REALTIME_MAX_SOCKETS_PER_ADDRESS": 1000,
    # Seconds a client may take to send a request line and headers (also the keep-alive
    # idle limit), and the body's grace period and minimum rate in bytes a second
    "REQUEST_HEADER_TIMEOUT": 10,
    "REQUEST_BODY_TIMEOUT": 20,
    "REQUEST_BODY_MIN_RATE": 1000,
    # Per account, from any address: failed logins allowed before it slows down, then the
    # seconds to wait before the next try (doubling per failure) and their cap
    "LOGIN_FREE_ATTEMPTS": 5,
    "LOGIN_DELAY": 2,
    "LOGIN_MAX_DELAY": 300,
    # POST /api/token/refresh per client address (a client refreshes every 15 minutes)
    "REFRESH_RATE_LIMIT": "30 per minute",
    # Shares by email per user, API and web together: each answers whether an address
    # has an account, so sweeping addresses must be slow
    "SHARE_BY_EMAIL_RATE_LIMIT": "30 per hour",
    # Categories one user may have (made by them, or by name by their tasks' edit sharees)
    "MAX_CATEGORIES_PER_USER": 500,
    # Reverse proxies in front that set X-Forwarded-For/-Proto/-Host/-Port (0: none)
    "PROXY_HOPS": 0,
    # Host names the server answers to (None: any); e.g. "tasks.example.com"
    "TRUSTED_HOSTS": None,
    # Origins whose pages may call the API from a browser (CORS); none by default
    "CORS_ORIGINS": [],
    # Bounds on a form body (web UI): number of fields and bytes of non-file fields
    "MAX_FORM_PARTS": 200,
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "SQLALCHEMY_DATABASE_URI": None,
    # PostgreSQL connections each worker keeps, and how many more it may open in a burst.
    # Only requests hold one (sockets do not), so this is not --threads.
    "DB_POOL_SIZE": 10,
    "DB_MAX_OVERFLOW": 10,
    # Seconds a request waits for a free connection before it is answered 503
    "DB_POOL_TIMEOUT": 10,
    # argon2id cost (argon2-cffi's RFC 9106 low-memory profile); raising it rehashes on login
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_COST": 65536,
    "ARGON2_PARALLELISM": 4,
}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config`` from defaults, the environment and ``overrides``, then check it."""
    config = app.config
    config.from_mapping(DEFAULTS)
    config.from_prefixed_env(ENV_PREFIX)
    _read_twelve_factor(config)
    if overrides:
        config.from_mapping(overrides)
    _coerce(config)
    _resolve_paths(app)
    _resolve_secret(app)
    _derive(config)


def instance_path_from_env() -> str | None:
    """``DOABLE_INSTANCE_PATH``: where the SQLite file, secret and uploads live by default."""
    path = os.environ.get(f"{ENV_PREFIX}_INSTANCE_PATH")
    return str(Path(path).resolve()) if path else None


def _read_twelve_factor(config: Config) -> None:
    for env_name, key in (
        ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI"),
        ("REDIS_URL", "REDIS_URL"),
        ("SECRET_KEY", "SECRET_KEY"),
    ):
        value = os.environ.get(env_name)
        if value:
            config[key] = value


def _env_name(key: str) -> str:
    return f"{ENV_PREFIX}_{key}"


def _positive_int(config: Config, key: str) -> None:
    value = config[key]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{_env_name(key)} must be a positive integer, got {value!r}")
    config[key] = value


def _non_negative_int(config: Config, key: str) -> None:
    value = config[key]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{_env_name(key)} must be 0 or a positive integer, got {value!r}")
    config[key] = value


def _host_names(config: Config, key: str) -> None:
    """None (any host), or a list of names from a list or a comma-separated string."""
    value = config[key]
    if value is None:
        return
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"{_env_name(key)} must be a comma-separated list of host names")
    for host in value:
        if not (isinstance(host, str) and _HOST.fullmatch(host)):
            raise ConfigError(
                f"{_env_name(key)}: {host!r} is not a host name such as tasks.example.com "
                "(a leading dot also allows its subdomains)"
            )
    config[key] = [host.lower() for host in value]


def _boolean(config: Config, key: str) -> None:
    value = config[key]
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        value = str(value)  # from_prefixed_env parses "1" as JSON: the number 1
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        value = value.strip().lower() in _TRUE
    if not isinstance(value, bool):
        raise ConfigError(f"{_env_name(key)} must be true or false, got {value!r}")
    config[key] = value


def _rate_limit(config: Config, key: str) -> None:
    value = config[key]
    try:
        parse_many(str(value))
    except ValueError as exc:
        raise ConfigError(
            f"{_env_name(key)} must be a rate limit such as '10 per minute', got {value!r}"
        ) from exc


def _origins(config: Config, key: str) -> None:
    """A list of ``scheme://host[:port]`` origins, from a list or a comma-separated string."""
    value = config[key]
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{_env_name(key)} must be a list of origins, got {value!r}")
    for origin in value:
        if not (isinstance(origin, str) and _ORIGIN.fullmatch(origin)):
            raise ConfigError(
                f"{_env_name(key)}: {origin!r} is not an origin such as https://tasks.example.com "
                "(scheme and host, optional port, no path; '*' is not allowed)"
            )
    config[key] = [origin.lower() for origin in value]


def _transports(config: Config, key: str) -> None:
    """Socket.IO transports: ``polling`` and/or ``websocket``, list or comma-separated."""
    value = config[key]
    if isinstance(value, str):
        value = [item.strip().lower() for item in value.split(",") if item.strip()]
    if (
        not isinstance(value, list | tuple)
        or "websocket" not in value
        or not set(value) <= {"polling", "websocket"}
    ):
        raise ConfigError(
            f"{_env_name(key)} must be websocket, or polling,websocket (the web pages use "
            f"WebSocket), got {config[key]!r}"
        )
    config[key] = list(dict.fromkeys(value))


def _coerce(config: Config) -> None:
    for key in (
        "ACCESS_TOKEN_TTL",
        "REFRESH_TOKEN_TTL",
        "MAX_UPLOAD_SIZE",
        "USER_QUOTA",
        "MAX_JSON_SIZE",
        "MAX_URL_LENGTH",
        "ARGON2_TIME_COST",
        "ARGON2_MEMORY_COST",
        "ARGON2_PARALLELISM",
        "REALTIME_PING_INTERVAL",
        "REALTIME_SESSION_CHECK",
        "REALTIME_CONNECT_TIMEOUT",
        "REALTIME_MAX_SOCKETS_PER_USER",
        "REALTIME_MAX_SOCKETS_PER_ADDRESS",
        "REQUEST_HEADER_TIMEOUT",
        "REQUEST_BODY_TIMEOUT",
        "REQUEST_BODY_MIN_RATE",
        "MAX_FORM_PARTS",
        "MAX_FORM_MEMORY_SIZE",
        "DB_POOL_SIZE",
        "DB_POOL_TIMEOUT",
        "MAX_CATEGORIES_PER_USER",
        "LOGIN_FREE_ATTEMPTS",
        "LOGIN_DELAY",
        "LOGIN_MAX_DELAY",
    ):
        _positive_int(config, key)
    _non_negative_int(config, "PROXY_HOPS")
    _non_negative_int(config, "DB_MAX_OVERFLOW")
    _origins(config, "CORS_ORIGINS")
    _host_names(config, "TRUSTED_HOSTS")
    _origins(config, "REALTIME_ALLOWED_ORIGINS")
    _transports(config, "REALTIME_TRANSPORTS")
    _boolean(config, "RATELIMIT_ENABLED")
    _rate_limit(config, "AUTH_RATE_LIMIT")
    _rate_limit(config, "API_RATE_LIMIT")
    _rate_limit(config, "REFRESH_RATE_LIMIT")
    _rate_limit(config, "SHARE_BY_EMAIL_RATE_LIMIT")
    if config["ENV"] not in ("development", "production", "testing"):
        raise ConfigError(
            f"DOABLE_ENV must be development, production or testing, got {config['ENV']!r}"
        )
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    redis_url = config["REDIS_URL"]
    if redis_url and not str(redis_url).startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"REDIS_URL must start with redis://, rediss:// or unix://, got {redis_url!r}"
        )


def normalise_database_url(url: str | None) -> str | None:
    """Map the URLs platforms hand out to the driver Doable uses (psycopg 3)."""
    if not url:
        return None
    url = str(url)
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise ConfigError(
        "DATABASE_URL must be a postgresql:// or sqlite:// URL, "
        f"got one starting with {url.split(':', 1)[0]!r}"
    )


def _resolve_paths(app: Flask) -> None:
    instance = Path(app.instance_path)
    config = app.config
    if not config["SQLALCHEMY_DATABASE_URI"]:
        instance.mkdir(parents=True, exist_ok=True)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'doable.sqlite3'}"
    config["UPLOAD_DIR"] = str(Path(config["UPLOAD_DIR"] or instance / "uploads").resolve())


def _resolve_secret(app: Flask) -> None:
    """Read (or generate) SECRET_KEY, refuse a weak one in production, then replace it
    with the two keys derived from it (the master itself stays out of ``app.config``)."""
    config = app.config
    secret = config.get("SECRET_KEY")
    production = config["ENV"] == "production"
    if secret:
        secret = str(secret)
        if production:
            _check_strength("SECRET_KEY", secret)
    elif production:
        raise ConfigError(
            "SECRET_KEY must be set when DOABLE_ENV=production; "
            f"generate one with {NEW_KEY_COMMAND}"
        )
    else:
        secret = _instance_secret(Path(app.instance_path))
    jwt_secret = config.get("JWT_SECRET_KEY")
    if jwt_secret:
        jwt_secret = str(jwt_secret)
        if production:
            _check_strength(_env_name("JWT_SECRET_KEY"), jwt_secret)
    config["JWT_SECRET_KEY"] = jwt_secret or derive_key(secret, JWT_KEY_LABEL)
    config["SECRET_KEY"] = derive_key(secret, COOKIE_KEY_LABEL)


def derive_key(secret: str, label: str) -> str:
    """The key for one use of ``secret``: HMAC-SHA256 keyed with it over ``label``."""
    return hmac.new(secret.encode(), label.encode(), hashlib.sha256).hexdigest()


def weak_secret_reason(secret: str) -> str | None:
    """Why ``secret`` is too guessable to sign with in production, or None.

    A secret is refused when it is shorter than 32 characters, has fewer than 8
    different characters, has one character filling more than a third of it, is a
    shorter block repeated (``abcabc…``: a period of at most half its length), or is
    mostly a run (more than half of its neighbouring characters are consecutive, as in
    ``abcd`` or ``4321``). A random key (``secrets.token_urlsafe(48)``, or 32 random hex
    digits) passes; a phrase of one repeated character or pattern does not.
    """
    length = len(secret)
    if length < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        return f"it has fewer than {MIN_SECRET_DISTINCT} different characters"
    if 3 * max(Counter(secret).values()) > length:
        return "one character fills more than a third of it"
    if any(secret[period:] == secret[:-period] for period in range(1, length // 2 + 1)):
        return "it is a shorter pattern repeated"
    steps = sum(abs(ord(b) - ord(a)) == 1 for a, b in pairwise(secret))
    if 2 * steps > length - 1:
        return "it is mostly a run of consecutive characters"
    return None


def _check_strength(name: str, secret: str) -> None:
    reason = weak_secret_reason(secret)
    if reason:
        raise ConfigError(
            f"{name} is too weak for production ({reason}): use a long random key; "
            f"generate one with {NEW_KEY_COMMAND}"
        )


def _instance_secret(instance: Path) -> str:
    """The key generated on first start and kept, so tokens survive a restart."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def _derive(config: Config) -> None:
    """Settings of the libraries Doable wires, computed from Doable's own."""
    uri = config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        # A file database never drops a connection: pinging it would cost a query a request.
        connect_args: dict[str, Any] = {"timeout": 15}
        if cooperative():  # doable serve: statements run off the event loop (doable.db)
            from doable.db import CooperativeConnection

            connect_args.update(factory=CooperativeConnection, check_same_thread=False)
        engine_options: dict[str, Any] = {"connect_args": connect_args}
    else:
        # Survive a database restart: test each pooled connection before a request uses it.
        # A request that finds no connection free in time is answered 503.
        engine_options = {
            "pool_pre_ping": True,
            "pool_size": config["DB_POOL_SIZE"],
            "max_overflow": config["DB_MAX_OVERFLOW"],
            "pool_timeout": config["DB_POOL_TIMEOUT"],
        }
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options)
    config.update(
        TESTING=config["ENV"] == "testing" or config.get("TESTING", False),
        MAX_CONTENT_LENGTH=config["MAX_UPLOAD_SIZE"] + 1024 * 1024,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_COOKIE_CSRF_PROTECT=False,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=config["ACCESS_TOKEN_TTL"]),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=config["REFRESH_TOKEN_TTL"]),
        RATELIMIT_STORAGE_URI=config["REDIS_URL"] or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        # Fail open: when Redis is down, logins are not limited rather than refused.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 1, "socket_timeout": 1},
        API_TITLE="Doable",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
    )
    config.setdefault("RATELIMIT_KEY_PREFIX", config["REDIS_PREFIX"])
