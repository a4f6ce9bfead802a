"""Time zones, due times, recurrence, reminders, notifications and calendar feeds

Users get a zone (UTC for existing accounts) and their reminder channels; tasks get a
due time, a zone, a recurrence and reminders, and ``due_at``, the instant they are due
(NULL for existing tasks until they are next written: the tasks service computes it,
and every reader falls back to the due date). Reminders' schedule, the record of each
notice sent (unique per user, key and channel: a notice goes at most once), daily
digests, in-app notifications and calendar feed tokens are new tables.

The new columns are added (and dropped) with plain ALTER TABLE, not a batch copy of
the table: copying ``task`` would drop the triggers that keep its search index.

Revision ID: 2b37d00545d5
Revises: c51273179d0f
Create Date: 2026-11-30 19:20:38.995830

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "2b37d00545d5"
down_revision = "c51273179d0f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_feed",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_calendar_feed_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_feed")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feed_token_hash")),
    )
    op.create_table(
        "digest",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Time(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_digest_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_digest")),
    )
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.create_index("ix_digest_next_at", ["next_at"], unique=False)

    op.create_table(
        "notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_notification_task_id_task"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_notification_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_user", ["user_id", "id"], unique=False)
        batch_op.create_index("ix_notification_user_unread", ["user_id", "read_at"], unique=False)

    op.create_table(
        "reminder",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurrence", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_reminder_task_id_task"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_reminder_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "spec", name=op.f("pk_reminder")),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_fire_at", ["fire_at"], unique=False)

    op.create_table(
        "reminder_fire",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["task.id"],
            name=op.f("fk_reminder_fire_task_id_task"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_reminder_fire_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_fire")),
        sa.UniqueConstraint("user_id", "key", "channel", name=op.f("uq_reminder_fire_user_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("reminder_fire", schema=None) as batch_op:
        batch_op.create_index("ix_reminder_fire_pending", ["status", "lease_until"], unique=False)

    op.add_column("task", sa.Column("due_time", sa.Time(), nullable=True))
    op.add_column("task", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.add_column("task", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("task", sa.Column("recurrence_rule", sa.String(length=500), nullable=True))
    op.add_column("task", sa.Column("recurrence_mode", sa.String(length=20), nullable=True))
    op.add_column("task", sa.Column("recurrence_anchor", sa.DateTime(), nullable=True))
    op.add_column("task", sa.Column("reminders", sa.JSON(), nullable=True))
    op.add_column(
        "user", sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
    )
    op.add_column(
        "user", sa.Column("remind_in_app", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column(
        "user", sa.Column("remind_by_email", sa.Boolean(), server_default=sa.true(), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("user", "remind_by_email")
    op.drop_column("user", "remind_in_app")
    op.drop_column("user", "timezone")

    op.drop_column("task", "reminders")
    op.drop_column("task", "recurrence_anchor")
    op.drop_column("task", "recurrence_mode")
    op.drop_column("task", "recurrence_rule")
    op.drop_column("task", "due_at")
    op.drop_column("task", "timezone")
    op.drop_column("task", "due_time")

    with op.batch_alter_table("reminder_fire", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_fire_pending")

    op.drop_table("reminder_fire")
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_fire_at")

    op.drop_table("reminder")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_user_unread")
        batch_op.drop_index("ix_notification_user")

    op.drop_table("notification")
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_index("ix_digest_next_at")

    op.drop_table("digest")
    op.drop_table("calendar_feed")
