"""Usernames and emails compared through keys folded in Python; failed logins per account

Failed logins in a row are counted on the user (``login_failures``, ``login_failed_at``)
so an account slows down however many addresses guess at it; the networks it last
logged in from (``login_networks``) are exempt, so guessing cannot lock its owner out.

PostgreSQL's lower("İnfo") is "info" where Python's (SQLite's) is five characters, and
PostgreSQL keeps a final sigma that Python's case folding makes a plain one: the same two
addresses collided on one backend and not on the other. Each user now stores
``username_key`` and ``email_key`` (NFKC, then case folding, then NFKC), computed by
the application, and the unique indexes are on those.

The columns are added with plain ALTER TABLE rather than a batch copy of the table:
on SQLite the copy would drop ``user``, and with foreign keys on (they are, on every
connection) dropping it deletes every row referencing it. The ``''`` default lets a
NOT NULL column be added to existing rows; on SQLite it stays (the application always
sets the keys), elsewhere it is dropped once the rows are filled.

Revision ID: c3f1a9d2e7b4
Revises: 50de3b155386
Create Date: 2026-11-29 09:00:00.000000

"""

import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "c3f1a9d2e7b4"
down_revision = "50de3b155386"
branch_labels = None
depends_on = None

_user = sa.table(
    "user",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("email", sa.String),
    sa.column("username_key", sa.String),
    sa.column("email_key", sa.String),
)


#: ``email_key``'s length, as the application's ``MAX_EMAIL_KEY`` at this revision.
_MAX_EMAIL_KEY = 320


def _fold(text):
    """The application's ``doable.auth.models.fold`` as of this revision."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def upgrade():
    keyed = _keys(op.get_bind())  # checked before any change: a refusal leaves all as it was
    op.drop_index("uq_user_username_lower", table_name="user")
    op.drop_index("uq_user_email_lower", table_name="user")
    op.add_column(
        "user", sa.Column("username_key", sa.String(length=32), nullable=False, server_default="")
    )
    op.add_column(
        "user",
        sa.Column("email_key", sa.String(length=_MAX_EMAIL_KEY), nullable=False, server_default=""),
    )
    if keyed:
        op.get_bind().execute(
            _user.update()
            .where(_user.c.id == sa.bindparam("row_id"))
            .values(username_key=sa.bindparam("username_key"), email_key=sa.bindparam("email_key")),
            keyed,
        )
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("user", "username_key", server_default=None)
        op.alter_column("user", "email_key", server_default=None)
    op.create_index("uq_user_username_key", "user", ["username_key"], unique=True)
    op.create_index("uq_user_email_key", "user", ["email_key"], unique=True)
    op.add_column(
        "user", sa.Column("login_failures", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("user", sa.Column("login_failed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("user", sa.Column("login_networks", sa.Text(), nullable=True))


def _keys(connection):
    rows = connection.execute(sa.select(_user.c.id, _user.c.username, _user.c.email)).all()
    keyed = [
        {"row_id": id_, "username_key": _fold(username), "email_key": _fold(email)}
        for id_, username, email in rows
    ]
    for field in ("username_key", "email_key"):
        _refuse_duplicates(rows, keyed, field)
    _refuse_long_email_keys(rows, keyed)
    return keyed


def _refuse_long_email_keys(rows, keyed):
    """Folding can lengthen an address (NFKC turns one ligature into several letters):
    one whose key no longer fits ``email_key`` must be changed first."""
    emails = {row[0]: row[2] for row in rows}
    long = [entry["row_id"] for entry in keyed if len(entry["email_key"]) > _MAX_EMAIL_KEY]
    if long:
        listed = "; ".join(f"{i} {emails[i]!r}" for i in long)
        raise RuntimeError(
            f"These users' emails are longer than {_MAX_EMAIL_KEY} characters once folded; "
            f"change them, then upgrade again: {listed}"
        )


def _refuse_duplicates(rows, keyed, field):
    """Two accounts whose names only the new folding makes equal: say which, and stop
    (an administrator decides which one to rename)."""
    ids_by_key = defaultdict(list)
    for entry in keyed:
        ids_by_key[entry[field]].append(entry["row_id"])
    clashes = [ids for ids in ids_by_key.values() if len(ids) > 1]
    if clashes:
        column = field.removesuffix("_key")
        values = {row[0]: row[1 if column == "username" else 2] for row in rows}
        listed = "; ".join(", ".join(f"{i} {values[i]!r}" for i in ids) for ids in clashes)
        raise RuntimeError(
            f"These users have the same {column} ignoring case; change all but one of "
            f"each group, then upgrade again: {listed}"
        )


def downgrade():
    op.drop_column("user", "login_networks")
    op.drop_column("user", "login_failed_at")
    op.drop_column("user", "login_failures")
    op.drop_index("uq_user_email_key", table_name="user")
    op.drop_index("uq_user_username_key", table_name="user")
    op.drop_column("user", "email_key")
    op.drop_column("user", "username_key")
    op.create_index("uq_user_username_lower", "user", [sa.text("lower(username)")], unique=True)
    op.create_index("uq_user_email_lower", "user", [sa.text("lower(email)")], unique=True)
