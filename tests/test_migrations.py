"""Migrations and models agree, there is one head, and the chain runs both ways."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from doable import create_app
from doable.app import MIGRATIONS_DIR
from doable.extensions import db
from doable.tasks.search import is_search_object
from tests.conftest import base_config


def _tables(engine: sa.Engine) -> set[str]:
    names = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    return {name for name in names if not is_search_object(name)}


def test_migrations_have_a_single_head() -> None:
    script = ScriptDirectory(MIGRATIONS_DIR)
    assert len(script.get_heads()) == 1


def test_revision_files_are_dated_and_slugged() -> None:
    names = [p.name for p in Path(MIGRATIONS_DIR, "versions").glob("*.py")]
    assert names
    for name in names:
        assert re.match(r"^\d{4}_\d{2}_\d{2}_[0-9a-f]+_[a-z0-9_]+\.py$", name), name


# SQLite cannot reflect expression indexes; SQLAlchemy and Alembic warn and skip them.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:.*expression-based index:sqlalchemy.exc.SAWarning")
def test_upgraded_database_matches_models(empty_database_url: str, tmp_path: Path) -> None:
    app = create_app(base_config(empty_database_url, tmp_path))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_object": lambda obj, name, *_: not is_search_object(name),
                },
            )
            diff = [
                change
                for change in compare_metadata(context, db.metadata)
                # SQLite cannot reflect expression indexes (lower(email)); they are
                # compared on PostgreSQL, where reflection works.
                if not (connection.dialect.name == "sqlite" and _is_expression_index(change))
            ]
        db.engine.dispose()
    assert diff == []


def _is_expression_index(change: object) -> bool:
    return (
        isinstance(change, tuple)
        and change[0] in ("add_index", "remove_index")
        and str(change[1].name).endswith("_lower")
    )


def test_upgrade_downgrade_upgrade_on_empty_database(
    empty_database_url: str, tmp_path: Path
) -> None:
    app = create_app(base_config(empty_database_url, tmp_path))
    with app.app_context():
        upgrade()
        expected = {t.name for t in db.metadata.sorted_tables}
        assert _tables(db.engine) == expected
        downgrade(revision="base")
        assert _tables(db.engine) == set()
        upgrade()
        assert _tables(db.engine) == expected
        db.engine.dispose()


def _users_before_folding(users: list[dict[str, str]]) -> None:
    """Migrate to the revision before the folded keys and add ``users`` ({"u", "e"})
    as they were stored then (in the current app context)."""
    upgrade(revision="50de3b155386")
    with db.engine.begin() as connection:
        connection.execute(
            sa.text(
                'INSERT INTO "user" (username, email, password_hash, created_at, updated_at)'
                " VALUES (:u, :e, 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            users,
        )


def test_upgrade_fills_folded_keys_of_existing_users(empty_database_url: str, tmp_path: Path):
    """Users created before the keys existed get them computed in Python, the same on
    every backend (a final sigma folds like any sigma; "İ" to "i" and a combining dot)."""
    app = create_app(base_config(empty_database_url, tmp_path))
    with app.app_context():
        _users_before_folding(
            [{"u": "Alice", "e": "İnfo@X.org"}, {"u": "bob", "e": "\u03a3\u0391\u03a3@x.org"}]
        )
        upgrade()
        with db.engine.connect() as connection:
            keys = connection.execute(
                sa.text('SELECT username_key, email_key FROM "user" ORDER BY id')
            ).all()
        db.engine.dispose()
    assert [tuple(row) for row in keys] == [
        ("alice", "i\u0307nfo@x.org"),
        ("bob", "\u03c3\u03b1\u03c3@x.org"),
    ]


def test_upgrade_refuses_users_whose_emails_fold_alike(empty_database_url: str, tmp_path: Path):
    """Two addresses that only the new folding makes equal (lower() kept "ß" and "ss"
    apart): the upgrade names them and changes nothing."""
    app = create_app(base_config(empty_database_url, tmp_path))
    with app.app_context():
        _users_before_folding(
            [{"u": "one", "e": "straße@x.org"}, {"u": "two", "e": "STRASSE@x.org"}]
        )
        config = app.extensions["migrate"].migrate.get_config()
        with pytest.raises(RuntimeError, match="same email ignoring case") as refused:
            command.upgrade(config, "head")  # Flask-Migrate's upgrade() would only exit
        with db.engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
            columns = {c["name"] for c in sa.inspect(connection).get_columns("user")}
        db.engine.dispose()
    assert "1 'straße@x.org', 2 'STRASSE@x.org'" in str(refused.value)
    assert [tuple(row) for row in version] == [("50de3b155386",)]
    assert "email_key" not in columns


def test_upgrade_refuses_emails_too_long_once_folded(empty_database_url: str, tmp_path: Path):
    """An address valid before (at most 254 characters) that folding lengthens past the
    key's 320 ("ﬃ" is three letters once folded): the upgrade names it and changes
    nothing, instead of failing half-way on PostgreSQL or storing it whole on SQLite."""
    long_email = "ﬃ" * 120 + "@example.com"
    app = create_app(base_config(empty_database_url, tmp_path))
    with app.app_context():
        _users_before_folding(
            [{"u": "one", "e": long_email}, {"u": "two", "e": "fine@example.com"}]
        )
        config = app.extensions["migrate"].migrate.get_config()
        with pytest.raises(RuntimeError, match="longer than 320 characters") as refused:
            command.upgrade(config, "head")
        with db.engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        db.engine.dispose()
    assert f"1 {long_email!r}" in str(refused.value)
    assert "fine@example.com" not in str(refused.value)
    assert [tuple(row) for row in version] == [("50de3b155386",)]
