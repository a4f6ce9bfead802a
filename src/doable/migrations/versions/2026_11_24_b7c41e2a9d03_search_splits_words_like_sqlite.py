"""PostgreSQL search index: split words as SQLite does, never across title/description

Revision ID: b7c41e2a9d03
Revises: 5095d18cf27b
Create Date: 2026-11-24 06:05:00

"""

from alembic import op

revision = "b7c41e2a9d03"
down_revision = "5095d18cf27b"
branch_labels = None
depends_on = None

# Must stay the expression doable.tasks.search.postgres_document() builds.
DOCUMENT = (
    "to_tsvector('simple', (regexp_replace(title, '[^[:alnum:]]+', ' ', 'g') "
    "|| ' doable@field.break ') || regexp_replace(description, '[^[:alnum:]]+', ' ', 'g'))"
)
OLD_DOCUMENT = "to_tsvector('simple', title || ' ' || description)"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_task_search")
        op.execute(f"CREATE INDEX ix_task_search ON task USING gin ({DOCUMENT})")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_task_search")
        op.execute(f"CREATE INDEX ix_task_search ON task USING gin ({OLD_DOCUMENT})")
