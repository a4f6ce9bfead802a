"""Categories (many-to-many with tasks) and task shares

Revision ID: 5095d18cf27b
Revises: 4cb3ab7077b7
Create Date: 2026-11-24 06:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "5095d18cf27b"
down_revision = "4cb3ab7077b7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_category_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_category_user_name_lower",
        "category",
        ["user_id", sa.text("lower(name)")],
        unique=True,
    )
    op.create_table(
        "share",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permission", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "permission IN ('view', 'edit')", name=op.f("ck_share_permission_valid")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_share_task_id_task"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_share_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "user_id", name=op.f("pk_share")),
    )
    op.create_index("ix_share_user_task", "share", ["user_id", "task_id"])
    op.create_table(
        "task_category",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_task_category_category_id_category"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_category_task_id_task"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "category_id", name=op.f("pk_task_category")),
    )
    op.create_index("ix_task_category_category_task", "task_category", ["category_id", "task_id"])


def downgrade():
    op.drop_index("ix_task_category_category_task", table_name="task_category")
    op.drop_table("task_category")
    op.drop_index("ix_share_user_task", table_name="share")
    op.drop_table("share")
    op.drop_index("uq_category_user_name_lower", table_name="category")
    op.drop_table("category")
