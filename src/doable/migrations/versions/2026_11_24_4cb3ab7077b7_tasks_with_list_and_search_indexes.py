"""Tasks, an index per list shape, and full-text search (GIN on PostgreSQL, FTS5 on SQLite)

Revision ID: 4cb3ab7077b7
Revises: 89e9bc234945
Create Date: 2026-11-24 05:24:47.224675

"""

import sqlalchemy as sa
from alembic import op

revision = "4cb3ab7077b7"
down_revision = "89e9bc234945"
branch_labels = None
depends_on = None

LIST_INDEXES = {
    "ix_task_user_created": ["user_id", "created_at", "id"],
    "ix_task_user_updated": ["user_id", "updated_at", "id"],
    "ix_task_user_due": ["user_id", "due_date", "id"],
    "ix_task_user_priority": ["user_id", "priority", "id"],
    "ix_task_user_status_priority": ["user_id", "status", "priority", "created_at", "id"],
}

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE task_fts USING fts5(title, description, content='task', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER task_fts_insert AFTER INSERT ON task BEGIN "
    "INSERT INTO task_fts(rowid, title, description) VALUES (new.id, new.title, new.description); "
    "END",
    "CREATE TRIGGER task_fts_delete AFTER DELETE ON task BEGIN "
    "INSERT INTO task_fts(task_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); END",
    "CREATE TRIGGER task_fts_update AFTER UPDATE OF title, description ON task BEGIN "
    "INSERT INTO task_fts(task_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); "
    "INSERT INTO task_fts(rowid, title, description) VALUES (new.id, new.title, new.description); "
    "END",
]
POSTGRES_SEARCH_INDEX = (
    "CREATE INDEX ix_task_search ON task "
    "USING gin (to_tsvector('simple', title || ' ' || description))"
)


def upgrade():
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'in_progress', 'completed')",
            name=op.f("ck_task_status_valid"),
        ),
        sa.CheckConstraint("priority BETWEEN 1 AND 3", name=op.f("ck_task_priority_valid")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_task_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
        sqlite_autoincrement=True,
    )
    for name, columns in LIST_INDEXES.items():
        op.create_index(name, "task", columns)
    op.create_index("ix_task_user_title_lower", "task", ["user_id", sa.text("lower(title)"), "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_SEARCH_INDEX)
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_task_search")
    else:
        for trigger in ("task_fts_insert", "task_fts_delete", "task_fts_update"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE task_fts")
    op.drop_index("ix_task_user_title_lower", table_name="task")
    for name in LIST_INDEXES:
        op.drop_index(name, table_name="task")
    op.drop_table("task")
