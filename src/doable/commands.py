"""The app's own commands, registered by ``create_app``: ``doable create-user``,
``doable attachments gc``, ``doable changes prune`` and ``doable worker`` (``doable
serve`` is the command line's, ``doable.cli``)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from doable.errors import DoableError

log = logging.getLogger(__name__)


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


@click.group("changes")
def changes_group() -> None:
    """Maintain the change log (docs/api.md, Change feed)."""


@changes_group.command("prune")
@with_appcontext
def changes_prune_command() -> None:
    """Remove changes older than DOABLE_CHANGE_RETENTION_DAYS, webhook deliveries as old
    that are no longer pending (with their attempts), and the answers kept for
    idempotency keys older than DOABLE_IDEMPOTENCY_KEY_TTL_HOURS (run it daily)."""
    from doable.changes.service import prune
    from doable.webhooks.queue import prune_deliveries

    changes, keys = prune()
    deliveries = prune_deliveries()
    click.echo(
        f"Removed {changes} change(s), {keys} idempotency key(s) "
        f"and {deliveries} webhook delivery(ies)"
    )


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one round and exit (for cron and tests).")
@with_appcontext
def worker_command(once: bool) -> None:
    """Deliver webhooks, reminders and digests: fan changes out, send what is due, until
    SIGTERM or SIGINT (the attempts in flight finish first; a second signal stops at
    once)."""
    from doable.worker import Worker

    worker = Worker(current_app._get_current_object())  # type: ignore[attr-defined]
    if once:
        worker.round()
        if worker.failures:
            raise click.ClickException("the round failed (see the log)")
        return

    def on_signal(number: int, _: FrameType | None) -> None:
        if worker.stopped.is_set():
            os._exit(128 + number)  # asked twice: no waiting for the attempts in flight
        log.info("worker stopping after the attempts in flight (signal again: at once)")
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run()


def register_commands(app: Flask) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(attachments_group)
    app.cli.add_command(changes_group)
    app.cli.add_command(worker_command)
