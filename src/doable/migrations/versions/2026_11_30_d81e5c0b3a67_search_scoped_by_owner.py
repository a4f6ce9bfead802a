"""Search indexes hold each task's owner, so a search reads only the searcher's matches

A search for a common word used to fetch its matches among every user's tasks and then
keep the searcher's: its cost grew with the whole table, not with the searcher's tasks.

PostgreSQL: the GIN index now starts with ``user_id`` (``btree_gin`` indexes plain
columns in GIN; a trusted extension since PostgreSQL 13, so a database owner without
superuser rights can create it). ``user_id = ? AND document @@ query`` intersects the
two inside the index.

SQLite: the FTS5 table gets a ``user_id`` column; a search ANDs ``user_id : <id>`` with
the words (which are confined to the title and description columns, so a word that is
a number never matches an owner), and FTS5 intersects the two lists itself.

Revision ID: d81e5c0b3a67
Revises: c3f1a9d2e7b4
Create Date: 2026-11-30 06:30:00.000000

"""

from alembic import op

revision = "d81e5c0b3a67"
down_revision = "c3f1a9d2e7b4"
branch_labels = None
depends_on = None

# Must stay the expression doable.tasks.search.postgres_document() builds.
DOCUMENT = (
    "to_tsvector('simple', (regexp_replace(title, '[^[:alnum:]]+', ' ', 'g') "
    "|| ' doable@field.break ') || regexp_replace(description, '[^[:alnum:]]+', ' ', 'g'))"
)
TRIGGERS = ("task_fts_insert", "task_fts_delete", "task_fts_update")


def sqlite_fts(columns: str) -> list[str]:
    """The FTS5 table over ``task``'s ``columns`` and the triggers keeping it in step."""
    new = ", ".join(f"new.{column}" for column in columns.split(", "))
    old = ", ".join(f"old.{column}" for column in columns.split(", "))
    # Our own constants, no input: the column lists below.
    return [
        f"CREATE VIRTUAL TABLE task_fts USING fts5({columns}, content='task', "
        "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
        "CREATE TRIGGER task_fts_insert AFTER INSERT ON task BEGIN "  # noqa: S608
        f"INSERT INTO task_fts(rowid, {columns}) VALUES (new.id, {new}); END",
        "CREATE TRIGGER task_fts_delete AFTER DELETE ON task BEGIN "  # noqa: S608
        f"INSERT INTO task_fts(task_fts, rowid, {columns}) "
        f"VALUES ('delete', old.id, {old}); END",
        f"CREATE TRIGGER task_fts_update AFTER UPDATE OF {columns} ON task BEGIN "  # noqa: S608
        f"INSERT INTO task_fts(task_fts, rowid, {columns}) "
        f"VALUES ('delete', old.id, {old}); "
        f"INSERT INTO task_fts(rowid, {columns}) VALUES (new.id, {new}); END",
        "INSERT INTO task_fts(task_fts) VALUES ('rebuild')",
    ]


def replace_sqlite_fts(columns: str) -> None:
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE task_fts")
    for statement in sqlite_fts(columns):
        op.execute(statement)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        op.execute("DROP INDEX ix_task_search")
        op.execute(f"CREATE INDEX ix_task_search ON task USING gin (user_id, ({DOCUMENT}))")
    else:
        replace_sqlite_fts("title, description, user_id")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_task_search")
        op.execute(f"CREATE INDEX ix_task_search ON task USING gin ({DOCUMENT})")
        # btree_gin stays: it may have been there before, or serve other indexes now.
    else:
        replace_sqlite_fts("title, description")
