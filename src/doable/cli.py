"""The ``doable`` command (``doable.__main__`` runs it): ``serve`` here, the app's own
commands (``db upgrade`` from Flask-Migrate, ``doable.commands``) from the app it builds."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup
from gunicorn.app.base import BaseApplication

from doable.config import ConfigError
from doable.settings import Settings

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
    # On the group itself, so running it never builds the app in gunicorn's master.
    cli.add_command(serve_command)
    cli.main(prog_name="doable")


def _settings() -> Settings:
    """The checked settings alone, without building the app: the master process of
    ``doable serve`` starts no extension (their threads would not survive the fork)."""
    from doable.config import instance_path_from_env, load_config

    bare = Flask("doable", instance_path=instance_path_from_env())
    try:
        return load_config(bare)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


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
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes on this port (each one uses one CPU core).",
)
@click.option(
    "--worker-connections",
    default=10_000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Connections one worker holds at once: open sockets, requests and idle "
    "keep-alive connections together. Each costs memory, not a thread.",
)
@click.option(
    "--with-worker",
    is_flag=True,
    help="Also deliver webhooks, reminders and digests in each server process (the "
    "work of `doable worker`), "
    "so nothing else needs to run.",
)
def serve_command(
    host: str, port: int, workers: int, worker_connections: int, with_worker: bool
) -> None:
    """Apply pending migrations, then run the production server (gunicorn, gevent)."""
    from doable.server import raise_open_files_limit

    config = _settings()
    if workers > 1 and not config.redis_url:
        raise click.UsageError(
            "--workers > 1 needs REDIS_URL: rate limits and real-time events are shared "
            "between worker processes through Redis"
        )
    if workers > 1 and "polling" in config.realtime_transports:
        raise click.UsageError(
            "--workers > 1 cannot serve Socket.IO over long-polling: the requests of one "
            "polling session must all reach the same process, and workers on one port "
            "share it at random. Run one worker per process behind a front that pins each "
            "client to one of them (docs/deploy.md), or set "
            "DOABLE_REALTIME_TRANSPORTS=websocket"
        )
    open_files = raise_open_files_limit()
    if open_files < worker_connections + 100:
        click.echo(
            f"warning: this process may open {open_files} files, fewer than "
            f"--worker-connections ({worker_connections}); raise `ulimit -n`",
            err=True,
        )
    # In a process of its own, like the workers: this one stays a bare gunicorn master.
    migrated = subprocess.run([sys.executable, "-m", "doable", "db", "upgrade"], check=False)
    if migrated.returncode != 0:
        raise click.ClickException("the database migrations failed (see above)")
    # Import (not build) the app here, once: the workers inherit the modules, already
    # patched for gevent, and boot in a fraction of the time.
    import doable.app  # noqa: F401

    production = config.env == "production"
    GunicornServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "doable.server.WorkerWithJobs"
            if with_worker
            else "doable.server.Worker",
            "worker_connections": worker_connections,
            "preload_app": False,
            # gunicorn 27's control socket defaults to one path per user: every server
            # on the host would share it. Doable is managed by signals; keep it off.
            "control_socket_disable": True,
            # gunicorn's largest: longer URLs than DOABLE_MAX_URL_LENGTH reach the app,
            # which refuses them with a problem document rather than an HTML page.
            "limit_request_line": 8190,
            "timeout": 30,
            "graceful_timeout": 30,
            # Must not be 0: the gevent worker then reads headers without any deadline.
            # The deadline itself is DOABLE_REQUEST_HEADER_TIMEOUT (doable.server).
            "keepalive": 5,
            # No recycling after N requests: a recycled worker drops every socket it
            # holds, and thousands of clients would reconnect at once.
            "max_requests": 0,
            # One access line per request comes from the app (doable.logs), with the user.
            "accesslog": None,
            **({"logconfig_dict": JSON_SERVER_LOGS} if production else {}),
        }
    ).run()
