"""A user's colour theme, and whether they chose their time zone

``theme`` is ``system`` (follow the browser's colour scheme), ``light`` or ``dark``.
``zone_chosen`` says the account's zone was set by its user (at sign-up from the
browser, on the account page or through ``PATCH /api/me``); until then a web login
adopts the browser's zone. Accounts whose zone is not UTC already chose it.

Plain ALTER TABLE, as in 2b37d00545d5: a batch copy of ``user`` is not needed to add
columns with server defaults.

Revision ID: 1e928a8d4d05
Revises: 2b37d00545d5
Create Date: 2026-11-30 22:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "1e928a8d4d05"
down_revision = "2b37d00545d5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "user", sa.Column("theme", sa.String(length=6), server_default="system", nullable=False)
    )
    op.add_column(
        "user",
        sa.Column("zone_chosen", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(
        sa.text("UPDATE \"user\" SET zone_chosen = :yes WHERE timezone <> 'UTC'").bindparams(
            yes=True
        )
    )


def downgrade() -> None:
    op.drop_column("user", "zone_chosen")
    op.drop_column("user", "theme")
