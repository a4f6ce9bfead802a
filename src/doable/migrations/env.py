"""Alembic environment, run by Flask-Migrate inside the app context."""

import logging
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from flask import current_app
from sqlalchemy.schema import SchemaItem

from doable.db import UTCDateTime
from doable.logs import share_handlers
from doable.settings import settings
from doable.tasks.search import is_search_object

logger = logging.getLogger("alembic.env")
config = context.config
if settings().env == "production":
    share_handlers("alembic")  # JSON lines, like every other line in production
elif config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy ones, so revisions import nothing of ours."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    """Full-text search structures differ by backend and are written by hand."""
    return not is_search_object(name)


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=db.metadata,
        literal_binds=True,
        render_item=render_item,
        include_object=include_object,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def skip_empty(
        context_: MigrationContext, revision: object, directives: list[MigrationScript]
    ) -> None:
        upgrade = directives[0].upgrade_ops
        if (
            getattr(config.cmd_opts, "autogenerate", False)
            and upgrade is not None
            and upgrade.is_empty()
        ):
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = {**current_app.extensions["migrate"].configure_args}
    conf_args.setdefault("process_revision_directives", skip_empty)
    conf_args.setdefault("render_item", render_item)
    conf_args.setdefault("include_object", include_object)
    with db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
