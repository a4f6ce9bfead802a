"""Configuration (README, Configuration): defaults, environment, overrides, and failing
fast by name.

These tests build apps without touching a database: ``create_app`` only wires, so a
config that loads is all they need.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
import time
from dataclasses import FrozenInstanceError
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from doable import create_app
from doable.auth.tokens import read_token
from doable.config import (
    COOKIE_KEY_LABEL,
    JWT_KEY_LABEL,
    ConfigError,
    derive_key,
    normalise_database_url,
)
from doable.settings import settings

#: A fixed random key (what ``secrets.token_urlsafe(36)`` prints)
STRONG_SECRET = "rv4VFrjzv2fhJQqVU2l-j8mXOy5U3HVa8sF5CqjbtDMYA0Tk"
TWELVE_FACTOR = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")


def _clean_environ() -> dict[str, str]:
    """The process environment without any Doable setting in it."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DOABLE_") and name not in TWELVE_FACTOR
    }


@pytest.fixture(autouse=True)
def instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting leaks in from the shell; the instance folder is this test's own."""
    for name in os.environ:
        if name.startswith("DOABLE_") or name in TWELVE_FACTOR:
            monkeypatch.delenv(name)
    folder = tmp_path / "instance"
    monkeypatch.setenv("DOABLE_INSTANCE_PATH", str(folder))
    return folder


# --- malformed values stop start-up, naming the variable ---------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DOABLE_ACCESS_TOKEN_TTL", "abc"),
        ("DOABLE_ACCESS_TOKEN_TTL", "0"),
        ("DOABLE_ACCESS_TOKEN_TTL", "-5"),
        ("DOABLE_ACCESS_TOKEN_TTL", "1.5"),
        ("DOABLE_ACCESS_TOKEN_TTL", "true"),
        ("DOABLE_REFRESH_TOKEN_TTL", "abc"),
        ("DOABLE_REFRESH_TOKEN_TTL", "0"),
        ("DOABLE_REFRESH_TOKEN_TTL", "-5"),
        ("DOABLE_MAX_UPLOAD_SIZE", "abc"),
        ("DOABLE_MAX_UPLOAD_SIZE", "0"),
        ("DOABLE_MAX_UPLOAD_SIZE", "-5"),
        ("DOABLE_RATELIMIT_ENABLED", "maybe"),
        ("DOABLE_RATELIMIT_ENABLED", "2"),
        ("DOABLE_AUTH_RATE_LIMIT", "lots"),
        ("DOABLE_ENV", "staging"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("DOABLE_WEBHOOK_TIMEOUT", "0"),
        ("DOABLE_WEBHOOK_TIMEOUT", "soon"),
        ("DOABLE_WEBHOOK_RETRY_SCHEDULE", "60,never"),
        ("DOABLE_WEBHOOK_RETRY_SCHEDULE", "60,-1"),
        ("DOABLE_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8,intranet"),
        ("DOABLE_WORKER_POLL_INTERVAL", "true"),
    ],
)
def test_create_app_with_malformed_env_value_raises_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable):
        create_app()


def test_create_app_with_malformed_override_raises_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="DOABLE_ACCESS_TOKEN_TTL"):
        create_app({"ACCESS_TOKEN_TTL": 0, "SECRET_KEY": STRONG_SECRET})


# --- valid values are parsed ---------------------------------------------------------


def test_create_app_with_defaults_uses_the_documented_values() -> None:
    app = create_app()

    assert app.config["ACCESS_TOKEN_TTL"] == 900
    assert app.config["REFRESH_TOKEN_TTL"] == 2_592_000
    assert app.config["RATELIMIT_ENABLED"] is True
    assert app.config["AUTH_RATE_LIMIT"] == "10 per minute"
    assert app.config["MAX_UPLOAD_SIZE"] == 10_485_760
    assert app.config["ENV"] == "development"
    assert app.config["REDIS_URL"] is None


def test_create_app_with_access_token_ttl_env_sets_ttl_and_jwt_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_ACCESS_TOKEN_TTL", "60")

    app = create_app()

    assert app.config["ACCESS_TOKEN_TTL"] == 60
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(seconds=60)


def test_create_app_with_refresh_token_ttl_env_sets_refresh_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_REFRESH_TOKEN_TTL", "3600")

    app = create_app()

    assert app.config["REFRESH_TOKEN_TTL"] == 3600
    assert app.config["JWT_REFRESH_TOKEN_EXPIRES"] == timedelta(seconds=3600)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("false", False), ("0", False), ("no", False), ("true", True), ("1", True), ("on", True)],
)
def test_create_app_with_ratelimit_enabled_env_parses_a_boolean(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("DOABLE_RATELIMIT_ENABLED", value)

    app = create_app()

    assert app.config["RATELIMIT_ENABLED"] is expected


def test_create_app_with_max_upload_size_env_bounds_request_bodies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_MAX_UPLOAD_SIZE", "2048")

    app = create_app()

    assert app.config["MAX_UPLOAD_SIZE"] == 2048
    # Room for the multipart envelope around the file, but bounded by the setting.
    assert 2048 < app.config["MAX_CONTENT_LENGTH"] <= 2048 + 2 * 1024 * 1024


def test_create_app_with_auth_rate_limit_env_keeps_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_AUTH_RATE_LIMIT", "5 per hour")

    app = create_app()

    assert app.config["AUTH_RATE_LIMIT"] == "5 per hour"


def test_create_app_with_upload_dir_env_uses_that_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOABLE_UPLOAD_DIR", str(tmp_path / "files"))

    app = create_app()

    assert app.config["UPLOAD_DIR"] == str((tmp_path / "files").resolve())


def test_create_app_without_upload_dir_uses_instance_uploads(instance: Path) -> None:
    app = create_app()

    assert app.config["UPLOAD_DIR"] == str((instance / "uploads").resolve())


@pytest.mark.parametrize(
    ("variable", "key", "value", "expected"),
    [
        ("DOABLE_SESSION_COOKIE_NAME", "SESSION_COOKIE_NAME", "doable_sid", "doable_sid"),
        ("DOABLE_SESSION_COOKIE_SECURE", "SESSION_COOKIE_SECURE", "true", True),
        ("DOABLE_SEND_FILE_MAX_AGE_DEFAULT", "SEND_FILE_MAX_AGE_DEFAULT", "120", 120),
    ],
)
def test_create_app_with_prefixed_flask_key_env_sets_that_key(
    monkeypatch: pytest.MonkeyPatch, variable: str, key: str, value: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)

    app = create_app()

    assert app.config[key] == expected


# --- DATABASE_URL and REDIS_URL ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgres://u:p@db.example:5432/doable",
            "postgresql+psycopg://u:p@db.example:5432/doable",
        ),
        ("postgresql://u@db.example/doable", "postgresql+psycopg://u@db.example/doable"),
        ("postgresql+psycopg://u@db.example/doable", "postgresql+psycopg://u@db.example/doable"),
        ("sqlite:////var/lib/doable/doable.sqlite3", "sqlite:////var/lib/doable/doable.sqlite3"),
    ],
)
def test_create_app_with_database_url_env_normalises_the_driver(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    app = create_app()

    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected


def test_normalise_database_url_with_postgres_scheme_only_rewrites_the_prefix() -> None:
    url = "postgres://u@h/postgres://not-a-prefix"

    assert normalise_database_url(url) == "postgresql+psycopg://u@h/postgres://not-a-prefix"


def test_create_app_without_database_url_uses_sqlite_in_the_instance_folder(
    instance: Path,
) -> None:
    app = create_app()

    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'doable.sqlite3'}"
    assert instance.is_dir()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380/1"])
def test_create_app_with_redis_url_env_uses_it_for_rate_limit_storage(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("REDIS_URL", url)

    app = create_app()

    assert app.config["REDIS_URL"] == url
    assert app.config["RATELIMIT_STORAGE_URI"] == url


# --- the secret key ---------------------------------------------------------------


def test_create_app_without_secret_key_writes_a_private_instance_secret(instance: Path) -> None:
    app = create_app()

    secret_file = instance / "secret_key"
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert app.config["SECRET_KEY"] == derive_key(secret, COOKIE_KEY_LABEL)
    assert app.config["JWT_SECRET_KEY"] == derive_key(secret, JWT_KEY_LABEL)


def test_create_app_twice_without_secret_key_reuses_the_instance_secret(instance: Path) -> None:
    first = create_app()
    written = (instance / "secret_key").read_text()

    second = create_app()

    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    assert (instance / "secret_key").read_text() == written


def test_create_app_in_two_instance_folders_generates_different_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = create_app()
    monkeypatch.setenv("DOABLE_INSTANCE_PATH", str(tmp_path / "other"))

    second = create_app()

    assert second.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_create_app_with_secret_key_env_uses_it_over_the_instance_secret(
    monkeypatch: pytest.MonkeyPatch, instance: Path
) -> None:
    instance.mkdir()
    (instance / "secret_key").write_text("an-old-generated-secret")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)

    app = create_app()

    assert app.config["SECRET_KEY"] == derive_key(STRONG_SECRET, COOKIE_KEY_LABEL)
    assert app.config["JWT_SECRET_KEY"] == derive_key(STRONG_SECRET, JWT_KEY_LABEL)


def test_create_app_with_secret_key_env_writes_no_instance_secret(
    monkeypatch: pytest.MonkeyPatch, instance: Path
) -> None:
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)

    create_app()

    assert not (instance / "secret_key").exists()


def test_create_app_with_secret_key_env_wins_over_prefixed_secret_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_SECRET_KEY", "p" * 48)
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)

    app = create_app()

    assert app.config["SECRET_KEY"] == derive_key(STRONG_SECRET, COOKIE_KEY_LABEL)


def test_create_app_in_production_without_secret_key_raises_naming_secret_key(
    monkeypatch: pytest.MonkeyPatch, instance: Path
) -> None:
    monkeypatch.setenv("DOABLE_ENV", "production")

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()

    assert not (instance / "secret_key").exists()


def test_create_app_in_production_with_short_secret_key_raises_naming_secret_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "changeme")

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_create_app_in_production_with_strong_secret_key_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)

    app = create_app()

    assert app.config["ENV"] == "production"
    assert app.config["SECRET_KEY"] == derive_key(STRONG_SECRET, COOKIE_KEY_LABEL)
    assert app.config["TESTING"] is False


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("a" * 32, "fewer than 8 different characters"),
        ("a" * 40 + "bcdefghij", "one character fills more than a third"),
        ("abcdefgh" * 6, "a shorter pattern repeated"),
        ("Tr0ub4dor&3-" * 4, "a shorter pattern repeated"),
        ("0123456789abcdefghijklmnopqrstuvwxyz", "mostly a run of consecutive characters"),
        ("zyxwvutsrqponmlkjihgfedcba9876543210", "mostly a run of consecutive characters"),
    ],
)
def test_create_app_in_production_with_guessable_secret_key_raises_naming_it(
    monkeypatch: pytest.MonkeyPatch, secret: str, reason: str
) -> None:
    monkeypatch.setenv("DOABLE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secret)

    with pytest.raises(ConfigError) as raised:
        create_app()

    message = str(raised.value)
    assert message.startswith("SECRET_KEY is too weak for production")
    assert reason in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in message


@pytest.mark.parametrize(
    "secret",
    [
        # What secrets.token_urlsafe(48), token_urlsafe(24) and token_hex(16) once printed
        "dibmpw9alQ29V0RsyczzhZ3p0BYYWK5mtfITDXvepB1TVG5gxqCVIDengTtNqOD7",
        "xMkveQVvEJr1tkNyitR3IFq2OXvq7NIc",
        "9c88ace166b7c6a7a5ed8e23aeabc410",
        STRONG_SECRET,
    ],
)
def test_create_app_in_production_with_random_secret_key_starts(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("DOABLE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secret)

    app = create_app()

    assert app.config["SECRET_KEY"] == derive_key(secret, COOKIE_KEY_LABEL)


def test_create_app_derives_distinct_cookie_and_jwt_keys_from_secret_key() -> None:
    app = create_app({"SECRET_KEY": STRONG_SECRET})

    keys = {app.config["SECRET_KEY"], app.config["JWT_SECRET_KEY"], STRONG_SECRET}
    assert len(keys) == 3
    assert app.config["JWT_SECRET_KEY"] == derive_key(STRONG_SECRET, JWT_KEY_LABEL)


def test_token_signed_with_the_raw_secret_key_does_not_verify() -> None:
    app = create_app({"SECRET_KEY": STRONG_SECRET})
    now = int(time.time())
    claims = {"sub": "1", "sid": "s", "type": "access", "jti": "j", "iat": now, "exp": now + 60}

    with app.app_context():
        with pytest.raises(jwt.InvalidSignatureError):
            read_token(jwt.encode(claims, STRONG_SECRET, algorithm="HS256"))
        derived = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
        assert read_token(derived)["sub"] == "1"


def test_create_app_with_jwt_secret_key_env_signs_tokens_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own = secrets.token_urlsafe(48)
    monkeypatch.setenv("DOABLE_JWT_SECRET_KEY", own)

    app = create_app({"SECRET_KEY": STRONG_SECRET})

    assert app.config["JWT_SECRET_KEY"] == own
    assert app.config["SECRET_KEY"] == derive_key(STRONG_SECRET, COOKIE_KEY_LABEL)


def test_create_app_in_production_with_weak_jwt_secret_key_raises_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("DOABLE_JWT_SECRET_KEY", "j" * 48)

    with pytest.raises(ConfigError, match=r"^DOABLE_JWT_SECRET_KEY is too weak"):
        create_app()


# --- overrides ----------------------------------------------------------------------


def test_create_app_with_overrides_wins_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOABLE_ACCESS_TOKEN_TTL", "60")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@db.example/doable")

    app = create_app(
        {
            "ACCESS_TOKEN_TTL": 120,
            "SECRET_KEY": "o" * 48,
            "SQLALCHEMY_DATABASE_URI": "sqlite:///override.sqlite3",
        }
    )

    assert app.config["ACCESS_TOKEN_TTL"] == 120
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(seconds=120)
    assert app.config["SECRET_KEY"] == derive_key("o" * 48, COOKIE_KEY_LABEL)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///override.sqlite3"


# --- the typed settings --------------------------------------------------------------


def test_create_app_keeps_typed_settings_that_app_config_mirrors(
    monkeypatch: pytest.MonkeyPatch, instance: Path
) -> None:
    monkeypatch.setenv("DOABLE_CORS_ORIGINS", "https://Tasks.Example.com, http://localhost:8080")
    monkeypatch.setenv("DOABLE_REALTIME_TRANSPORTS", "websocket")
    monkeypatch.setenv("DOABLE_PROXY_HOPS", "1")

    app = create_app({"SECRET_KEY": STRONG_SECRET})

    typed = settings(app)
    assert typed.cors_origins == ("https://tasks.example.com", "http://localhost:8080")
    assert typed.realtime_transports == ("websocket",)
    assert typed.proxy_hops == 1
    assert typed.upload_dir == (instance / "uploads").resolve()
    assert typed.jwt_secret_key == derive_key(STRONG_SECRET, JWT_KEY_LABEL)
    assert app.config["CORS_ORIGINS"] == ["https://tasks.example.com", "http://localhost:8080"]
    assert app.config["REALTIME_TRANSPORTS"] == ["websocket"]
    assert app.config["PROXY_HOPS"] == 1


def test_create_app_with_webhook_env_parses_seconds_schedules_and_networks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOABLE_WEBHOOK_TIMEOUT", "2.5")
    monkeypatch.setenv("DOABLE_WEBHOOK_RETRY_SCHEDULE", "0.5, 60,3600")
    monkeypatch.setenv("DOABLE_WEBHOOK_ALLOWED_NETWORKS", "10.1.2.3/16,127.0.0.1,fd00::/8")

    typed = settings(create_app())

    assert typed.webhook_timeout == 2.5
    assert typed.webhook_retry_schedule == (0.5, 60.0, 3600.0)
    assert typed.webhook_allowed_networks == ("10.1.0.0/16", "127.0.0.1/32", "fd00::/8")


def test_settings_without_an_app_reads_the_current_one() -> None:
    app = create_app({"ACCESS_TOKEN_TTL": 60, "SECRET_KEY": STRONG_SECRET})

    with app.app_context():
        assert settings().access_token_ttl == 60


def test_settings_cannot_be_changed_once_built() -> None:
    typed = settings(create_app({"SECRET_KEY": STRONG_SECRET}))

    with pytest.raises(FrozenInstanceError):
        typed.access_token_ttl = 1  # type: ignore[misc]


def test_settings_repr_leaves_the_signing_keys_out() -> None:
    app = create_app({"SECRET_KEY": STRONG_SECRET})

    shown = repr(settings(app))

    assert app.config["SECRET_KEY"] not in shown
    assert app.config["JWT_SECRET_KEY"] not in shown


# --- the command line reports a bad setting without a traceback --------------------


def test_cli_with_malformed_env_value_exits_with_a_message_naming_it(tmp_path: Path) -> None:
    doable = Path(sys.executable).with_name("doable")
    env = {
        **_clean_environ(),
        "DOABLE_INSTANCE_PATH": str(tmp_path / "instance"),
        "DOABLE_ACCESS_TOKEN_TTL": "abc",
    }

    result = subprocess.run(
        [str(doable), "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "DOABLE_ACCESS_TOKEN_TTL" in result.stderr
    assert "Traceback" not in output
    assert not (tmp_path / "instance" / "doable.sqlite3").exists()
