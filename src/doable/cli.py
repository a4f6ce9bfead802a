"""The ``doable`` command: ``serve``, ``db upgrade`` (Flask-Migrate), ``create-user``."""

from __future__ import annotations

import sys
import threading
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from doable.config import ConfigError
from doable.errors import DoableError

#: Gunicorn's own lines (start, workers, signals) as JSON in production, like the app's.
JSON_SERVER_LOGS = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "doable.logs.JSONFormatter"}},
    "handlers": {
        "json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": ["json"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False}},
}


def _load_app() -> Flask:
    from doable.app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def main() -> None:
    cli = FlaskGroup(
        name="doable",
        create_app=_load_app,
        add_default_commands=False,
        load_dotenv=False,
        help="Doable, a self-hosted task manager.",
    )
    cli.main(prog_name="doable")


class Worker(ThreadWorker):
    """Gunicorn's gthread worker, plus: on SIGTERM it closes its open sockets.

    Each socket holds a request thread; without this a worker would wait the whole
    graceful timeout for them. Requests in flight still finish.
    """

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        from doable.realtime.sockets import close_local_sockets

        threading.Thread(target=close_local_sockets, args=(self.wsgi,), daemon=True).start()


class GunicornServer(BaseApplication):
    """Gunicorn run from Python; each worker builds its own app (no preload)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return _load_app()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Threads per worker: concurrent requests (and open sockets) each worker holds.",
)
@click.option(
    "--worker-connections",
    type=click.IntRange(1, 100_000),
    help="Connections one worker holds, idle keep-alive ones included (default: twice "
    "--threads). Kept low so a burst of clients spreads over all workers instead of "
    "piling onto the first one that wakes.",
)
@with_appcontext
def serve_command(
    host: str, port: int, workers: int, threads: int, worker_connections: int | None
) -> None:
    """Apply pending migrations, then run the production server (gunicorn, gthread)."""
    from flask_migrate import upgrade

    if workers > 1 and not current_app.config["REDIS_URL"]:
        raise click.UsageError(
            "--workers > 1 needs REDIS_URL: rate limits and real-time events are shared "
            "between worker processes through Redis"
        )
    if worker_connections is not None and worker_connections < threads:
        raise click.UsageError(
            f"--worker-connections ({worker_connections}) must be at least --threads "
            f"({threads}): each open socket holds a thread and a connection"
        )
    upgrade()
    production = current_app.config["ENV"] == "production"
    GunicornServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "doable.cli.Worker",
            "threads": threads,
            "preload_app": False,
            # gunicorn 27's control socket defaults to one path per user: every server
            # on the host would share it. Doable is managed by signals; keep it off.
            "control_socket_disable": True,
            # gunicorn's largest: longer URLs than DOABLE_MAX_URL_LENGTH reach the app,
            # which refuses them with a problem document rather than an HTML page.
            "limit_request_line": 8190,
            "timeout": 30,
            "graceful_timeout": 30,
            "keepalive": 5,
            "worker_connections": worker_connections or threads * 2,
            "max_requests": 10000,
            "max_requests_jitter": 1000,
            # One access line per request comes from the app (doable.logs), with the user.
            "accesslog": None,
            **({"logconfig_dict": JSON_SERVER_LOGS} if production else {}),
        }
    ).run()


@click.command("create-user")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (for scripts)."
)
@with_appcontext
def create_user_command(username: str, email: str, password_stdin: bool) -> None:
    """Create an account."""
    from marshmallow import ValidationError

    from doable.auth import service
    from doable.auth.schemas import UserCreate

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate().load({"username": username, "email": email, "password": password})
        user = service.register_user(**data)
    except ValidationError as exc:
        raise click.ClickException(f"invalid input: {exc.messages}") from exc
    except DoableError as exc:
        raise click.ClickException(str(exc.detail)) from exc
    click.echo(f"Created user {user.username} (id {user.id})")


@click.group("attachments")
def attachments_group() -> None:
    """Maintain stored attachment files."""


@attachments_group.command("gc")
@with_appcontext
def attachments_gc_command() -> None:
    """Remove stored files that no attachment row points at (left by a crash)."""
    from doable.attachments.service import collect_garbage

    click.echo(f"Removed {collect_garbage()} orphaned file(s)")


def register_commands(app: Flask) -> None:
    app.cli.add_command(serve_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(attachments_group)
