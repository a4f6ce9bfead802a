"""Loading the settings: defaults, then the environment, then the caller's overrides.

Read once when the app is built, into the app's typed settings (``doable.settings``)
and into ``app.config`` for Flask and the extensions. A malformed value stops start-up
with an error that names the environment variable to fix.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from flask import Config, Flask

from doable.concurrency import cooperative
from doable.settings import (
    ENV_PREFIX,
    EXTENSION_KEY,
    ConfigError,
    Settings,
    as_config,
    defaults,
    parse,
)

__all__ = [
    "API_TOKEN_KEY_LABEL",
    "COOKIE_KEY_LABEL",
    "DEFAULTS",
    "JWT_KEY_LABEL",
    "ConfigError",
    "derive_key",
    "instance_path_from_env",
    "load_config",
    "normalise_database_url",
    "weak_secret_reason",
]

MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 8
#: Labels of the keys derived from SECRET_KEY: one signs JWTs, one cookies (and whatever
#: else Flask signs), one hashes personal API tokens (``doable.api_tokens``), so a key
#: recovered from one use does not serve another.
JWT_KEY_LABEL = "doable jwt signing key v1"
COOKIE_KEY_LABEL = "doable cookie signing key v1"
API_TOKEN_KEY_LABEL = "doable api token hash key v1"  # noqa: S105  (a label, not a key)
NEW_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'

#: Doable's settings' defaults (doable.settings.Settings), and those of the libraries'
#: settings Doable chooses differently
DEFAULTS: dict[str, Any] = {
    **defaults(),
    # The web UI's session cookie: hidden from scripts, not sent with cross-site POSTs
    # (and marked Secure whenever the page came over HTTPS: web/session.py)
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # A form's CSRF token is good for as long as the login that showed it
    "WTF_CSRF_TIME_LIMIT": None,
}


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Fill ``app.config`` from defaults, the environment and ``overrides``, check it, and
    keep it as the app's typed settings (``doable.settings.settings``)."""
    config = app.config
    config.from_mapping(DEFAULTS)
    config.from_prefixed_env(ENV_PREFIX)
    _read_twelve_factor(config)
    if overrides:
        config.from_mapping(overrides)
    values = parse(config)
    database_url, upload_dir = _database_url(app), _upload_dir(app)
    cookie_key, jwt_key, api_token_key = _signing_keys(
        app, production=values["env"] == "production"
    )
    built = Settings(
        **values,
        database_url=database_url,
        upload_dir=upload_dir,
        secret_key=cookie_key,
        jwt_secret_key=jwt_key,
        api_token_key=api_token_key,
    )
    config.update(as_config(built))
    _derive(config, built)
    app.extensions[EXTENSION_KEY] = built
    return built


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


def _database_url(app: Flask) -> str:
    """``DATABASE_URL`` for Doable's driver, else a SQLite file in the instance folder."""
    url = normalise_database_url(app.config.get("SQLALCHEMY_DATABASE_URI"))
    if url:
        return url
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'doable.sqlite3'}"


def _upload_dir(app: Flask) -> Path:
    given = app.config.get("UPLOAD_DIR")
    return Path(given or Path(app.instance_path) / "uploads").resolve()


def _signing_keys(app: Flask, *, production: bool) -> tuple[str, str, str]:
    """The cookie key, the JWT key and the API token key, derived from SECRET_KEY (read,
    or generated in the instance folder); a weak one is refused in production. The
    master itself is kept nowhere: ``app.config["SECRET_KEY"]`` becomes the cookie key."""
    secret = app.config.get("SECRET_KEY")
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
    jwt_secret = app.config.get("JWT_SECRET_KEY")
    if jwt_secret:
        jwt_secret = str(jwt_secret)
        if production:
            _check_strength(f"{ENV_PREFIX}_JWT_SECRET_KEY", jwt_secret)
    return (
        derive_key(secret, COOKIE_KEY_LABEL),
        jwt_secret or derive_key(secret, JWT_KEY_LABEL),
        derive_key(secret, API_TOKEN_KEY_LABEL),
    )


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


def _engine_options(built: Settings) -> dict[str, Any]:
    if built.database_url.startswith("sqlite"):
        # A file database never drops a connection: pinging it would cost a query a request.
        connect_args: dict[str, Any] = {"timeout": 15}
        if cooperative():  # doable serve: its cursors wait for locks cooperatively (doable.db)
            from doable.db import CooperativeConnection

            connect_args.update(factory=CooperativeConnection, check_same_thread=False)
        return {"connect_args": connect_args}
    # Survive a database restart: a pooled connection idle for a while is tested before
    # a request uses it (doable.db.IDLE_BEFORE_PING), not every one: a busy server would
    # pay a round trip a request. A request that finds no connection free in time is
    # answered 503.
    return {
        "pool_size": built.db_pool_size,
        "max_overflow": built.db_max_overflow,
        "pool_timeout": built.db_pool_timeout,
    }


def _derive(config: Config, built: Settings) -> None:
    """Settings of the libraries Doable wires, computed from Doable's own."""
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _engine_options(built))
    config.update(
        TESTING=built.env == "testing" or config.get("TESTING", False),
        MAX_CONTENT_LENGTH=built.max_upload_size + 1024 * 1024,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_COOKIE_CSRF_PROTECT=False,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=built.access_token_ttl),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=built.refresh_token_ttl),
        RATELIMIT_STORAGE_URI=built.redis_url or "memory://",
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
    config.setdefault("RATELIMIT_KEY_PREFIX", built.redis_prefix)
