"""Per-user task counters, so an unfiltered list does not count every task

Revision ID: 50de3b155386
Revises: 81642ec77741
Create Date: 2026-11-24 07:01:21.053177

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "50de3b155386"
down_revision = "81642ec77741"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "task_count",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("owned", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_task_count_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_task_count")),
    )
    # Existing tasks are counted once here; from now on the tasks service keeps them.
    op.execute(
        "INSERT INTO task_count (user_id, owned) SELECT user_id, count(*) FROM task GROUP BY user_id"
    )


def downgrade():
    op.drop_table("task_count")
