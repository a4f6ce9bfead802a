"""Recording changes: a service calls ``record`` for each change it makes; the unit of
work writes them all just before it commits (``doable.unit_of_work.stage``), in the
same transaction, so a change and its log commit together or not at all.

Who gets a change in their feed is decided here, when it is written, by the one access
rule: a ``Recorded`` names its ``audience``, or leaves it to ``None``, which means
everyone who can see the task at that moment (its owner and its sharees, read in the
same transaction, after the change). Each of them gets the next ``seq`` of their feed.

Numbering: ``_NUMBER`` adds to each user's ``FeedCursor`` in one statement (inserting
it for a user's first entry) and returns the new tops. On PostgreSQL the rows are
locked in the order given, by user id, and kept until the commit, so two transactions
numbering the same users take turns (never a deadlock: this is the last lock either
takes), and a ``seq`` commits only after every smaller one of that user did. SQLite
has one writer at a time.

After the commit, ``signals.changes_committed`` carries each change and its
recipients' ``seq`` to the real-time notifier.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Insert, Integer, bindparam, insert, literal, select, true, union_all
from sqlalchemy.dialects import postgresql, sqlite

from doable import signals
from doable.changes.models import BigId, Change, FeedCursor, FeedEntry
from doable.db import utcnow
from doable.extensions import db
from doable.sharing.models import Share
from doable.tasks.models import Task
from doable.unit_of_work import publish, stage

#: Actions, by entity.
TASK_ACTIONS = (
    "created",
    "updated",
    "deleted",
    "shared",
    "share_updated",
    "unshared",
    "occurrence_completed",
    "occurrence_skipped",
)
ATTACHMENT_ACTIONS = ("attachment_added", "attachment_deleted")
CATEGORY_ACTIONS = ("category_created", "category_updated", "category_deleted")
NOTIFICATION_ACTIONS = ("notification_created",)


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """A change to record. ``audience``: who gets it in their feed, each with what they
    alone are shown with it (or ``None``); left ``None``, everyone who can see
    ``task_id`` when it is written."""

    entity: str
    entity_id: int
    action: str
    changes: dict[str, list[Any]]
    actor_id: int | None
    task_id: int | None = None
    version: int | None = None
    audience: Mapping[int, dict[str, Any] | None] | None = None


@dataclass(frozen=True)
class Committed:
    """A change as written, and the ``seq`` it has in each recipient's feed."""

    change_id: int
    recorded: Recorded
    seqs: dict[int, int] = field(default_factory=dict)


def record(change: Recorded) -> None:
    """Log ``change`` in the current unit of work (written just before it commits)."""
    stage(_write, change)


def record_task(
    task_id: int,
    version: int | None,
    action: str,
    changes: dict[str, list[Any]],
    *,
    actor_id: int | None,
    audience: Mapping[int, dict[str, Any] | None] | None = None,
) -> None:
    """``record`` a change to the task ``task_id`` (``version``: its version after it),
    the entity of every task action (``TASK_ACTIONS``), whichever service makes it."""
    record(
        Recorded(
            entity="task",
            entity_id=task_id,
            task_id=task_id,
            action=action,
            version=version,
            changes=changes,
            actor_id=actor_id,
            audience=audience,
        )
    )


def fields_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{name: [old, new]}`` for each field of ``after`` whose value differs in ``before``."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def _write(changes: list[Recorded]) -> None:
    """Write ``changes`` and number them in their recipients' feeds (``_NUMBER``).

    What the unit of work left pending in the session is flushed first: the commit
    would flush it after this, taking its row locks after the feeds' (a category's
    deletion waiting for a task's links while holding its owner's feed, and the task's
    writer holding the links while waiting for that feed: a deadlock); and whoever can
    see the task is read after the change."""
    db.session.flush()
    connection = db.session.connection()
    at = utcnow()
    rows = [
        {
            "at": at,
            "actor_id": change.actor_id,
            "entity": change.entity,
            "entity_id": change.entity_id,
            "task_id": change.task_id,
            "action": change.action,
            "version": change.version,
            "changes": change.changes,
        }
        for change in changes
    ]
    if len(rows) == 1:
        change_ids = [connection.execute(_INSERT_CHANGE, rows[0]).scalar_one()]
    else:
        inserted = connection.execute(
            insert(Change).returning(Change.id, sort_by_parameter_order=True), rows
        )
        change_ids = list(inserted.scalars())
    if len(changes) == 1 and changes[0].audience is None and changes[0].task_id:
        # The common case: one change to a task, for whoever sees it.
        seqs = _enter_for_viewers(changes[0].task_id, change_ids[0])
        publish(signals.changes_committed, changes=[Committed(change_ids[0], changes[0], seqs)])
        return
    audiences = _audiences(changes)
    tops = _number(Counter(user for audience in audiences for user in audience))
    committed, entries = [], []
    for change_id, change, audience in zip(change_ids, changes, audiences, strict=True):
        seqs = {}
        for user_id, data in audience.items():
            seqs[user_id] = tops[user_id]
            entries.append(
                {"user_id": user_id, "seq": tops[user_id], "change_id": change_id, "data": data}
            )
            tops[user_id] += 1
        committed.append(Committed(change_id, change, seqs))
    if entries:
        connection.execute(_INSERT_ENTRY, entries)
    publish(signals.changes_committed, changes=committed)


_INSERT_CHANGE = insert(Change).returning(Change.id)
_INSERT_ENTRY = insert(FeedEntry)


def _number(counts: Counter[int]) -> dict[int, int]:
    """Take ``counts[user]`` seqs of each user's feed; the first of them, per user."""
    if not counts:
        return {}
    users = sorted(counts)  # the order PostgreSQL locks them in
    values = [{"user_id": user, "last_seq": counts[user]} for user in users]
    connection = db.session.connection()
    # One prebuilt statement, the users as its parameter sets (SQLAlchemy sends them
    # as one multi-row INSERT, in this order): built per call with ``.values()``, it
    # was compiled per call, a third of a POST's log writing under cProfile.
    numbered = connection.execute(_NUMBERING[connection.dialect.name], values)
    tops: dict[int, int] = dict(numbered.all())
    return {user: tops[user] - counts[user] + 1 for user in users}


def _enter_for_viewers(task_id: int, change_id: int) -> dict[int, int]:
    """Put the change in the feed of each user who can see the task, read by the
    statement that numbers their feeds; their seqs, by user id.

    From the numbering to the commit, the writer holds these users' feed cursors, so
    their other writers wait: on PostgreSQL the entries are inserted by the same
    statement (a data-modifying WITH), one round trip less in that window. SQLite has
    no such statement, and no round trips: it inserts them next."""
    connection = db.session.connection()
    params = {"task_id": task_id, "change_id": change_id}
    if connection.dialect.name == "postgresql":
        return dict(connection.execute(_ENTER_VIEWERS, params).all())
    seqs: dict[int, int] = dict(connection.execute(_NUMBERING_VIEWERS["sqlite"], params).all())
    entries = [
        {"user_id": user_id, "seq": seq, "change_id": change_id, "data": None}
        for user_id, seq in seqs.items()
    ]
    connection.execute(_INSERT_ENTRY, entries)
    return seqs


def _numbering(dialect: str, viewers: bool = False) -> Insert:
    """``INSERT … ON CONFLICT (user_id) DO UPDATE SET last_seq = last_seq + excluded``,
    returning each user's new last ``seq``."""
    upsert = (postgresql if dialect == "postgresql" else sqlite).insert(FeedCursor)
    if viewers:  # one each, to whoever can see the task ``task_id``, by user id
        task_id = bindparam("task_id", type_=Integer)
        owner = select(Task.user_id.label("user_id")).where(Task.id == task_id)
        sharees = select(Share.user_id).where(Share.task_id == task_id)
        seen = union_all(owner, sharees).subquery()
        # ``WHERE true``: SQLite would read ``ON CONFLICT`` as a join's ``ON`` without it.
        each = select(seen.c.user_id, literal(1)).where(true()).order_by(seen.c.user_id)
        upsert = upsert.from_select(["user_id", "last_seq"], each)
    numbering: Insert = upsert.on_conflict_do_update(
        index_elements=[FeedCursor.user_id],
        set_={"last_seq": FeedCursor.last_seq + upsert.excluded.last_seq},
    ).returning(FeedCursor.user_id, FeedCursor.last_seq)
    return numbering


_NUMBERING = {dialect: _numbering(dialect) for dialect in ("postgresql", "sqlite")}
_NUMBERING_VIEWERS = {dialect: _numbering(dialect, True) for dialect in ("postgresql", "sqlite")}
_NUMBERED = _NUMBERING_VIEWERS["postgresql"].cte("numbered")
#: PostgreSQL: number the viewers' feeds and insert their entries, in one statement.
_ENTER_VIEWERS = (
    insert(FeedEntry)
    .from_select(
        ["user_id", "seq", "change_id"],
        select(_NUMBERED.c.user_id, _NUMBERED.c.last_seq, bindparam("change_id", type_=BigId)),
    )
    .returning(FeedEntry.user_id, FeedEntry.seq)
)


def _audiences(changes: list[Recorded]) -> list[dict[int, dict[str, Any] | None]]:
    """Each change's recipients: as named, or everyone who can see its task now (read
    for all of them in one statement)."""
    asked = {change.task_id for change in changes if change.audience is None and change.task_id}
    viewers: dict[int, list[int]] = defaultdict(list)
    if asked:
        ids = sorted(asked)
        owners = select(Task.id, Task.user_id).where(Task.id.in_(ids))
        sharees = select(Share.task_id, Share.user_id).where(Share.task_id.in_(ids))
        for task_id, user_id in db.session.connection().execute(union_all(owners, sharees)):
            viewers[task_id].append(user_id)
    return [
        dict(change.audience)
        if change.audience is not None
        else dict.fromkeys(viewers.get(change.task_id or 0, []))
        for change in changes
    ]
