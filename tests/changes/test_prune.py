"""``doable changes prune``: changes past ``DOABLE_CHANGE_RETENTION_DAYS`` go with their
feed entries, and a reader after a pruned position is told so (410 with the oldest
``seq`` held) instead of missing them; newer changes and keys stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.changes.models import Change, IdempotentRequest
from doable.db import utcnow
from doable.errors import ProblemType
from doable.extensions import db
from tests.changes.feeds import entries, feed, logged, new_task
from tests.support.factories import Account, ApiClient, assert_problem


def backdate(app: Flask, change_ids: list[int], days: float) -> None:
    """Make the changes ``days`` old."""
    with app.app_context():
        db.session.execute(
            sa.update(Change).where(Change.id.in_(change_ids)).values(at=utcnow() - timedelta(days))
        )
        db.session.commit()
        db.session.remove()


def keep_key(app: Flask, user_id: int, key: str, hours: float) -> None:
    """A response kept for an idempotency key, ``hours`` old."""
    with app.app_context():
        created = utcnow() - timedelta(hours=hours)
        db.session.add(
            IdempotentRequest(
                user_id=user_id, key=key, fingerprint="0" * 64, created_at=created, status=201
            )
        )
        db.session.commit()
        db.session.remove()


def kept_keys(app: Flask) -> list[str]:
    with app.app_context():
        keys = list(db.session.scalars(sa.select(IdempotentRequest.key).order_by("key")))
        db.session.remove()
    return keys


def test_prune_removes_old_changes_and_keys_and_the_feed_then_answers_410(
    app: Flask, runner: object, api: ApiClient, alice: Account, bob: Account
) -> None:
    for n in range(3):
        new_task(api, alice, title=f"old {n}")
    new_task(api, alice, title="new")
    new_task(api, bob, title="bob's")
    changes = [event["change_id"] for event in feed(api, alice)]
    backdate(app, changes[:3], days=31)
    keep_key(app, alice.id, "stale", hours=25)
    keep_key(app, alice.id, "fresh", hours=1)

    result = runner.invoke(args=["changes", "prune"])  # type: ignore[attr-defined]

    assert result.exit_code == 0, result.output
    assert (
        result.output == "Removed 3 change(s), 1 idempotency key(s) and 0 webhook delivery(ies)\n"
    )
    assert [(entity, action) for entity, _, action in logged(app)] == [("task", "created")] * 2
    assert [(user, seq) for user, seq, _ in entries(app)] == [(alice.id, 4), (bob.id, 1)]
    assert kept_keys(app) == ["fresh"]
    for after in (0, 2):
        body = assert_problem(api.get(f"/api/events?after={after}", alice.token), 410)
        assert body["type"] == ProblemType.FEED_POSITION_GONE.uri
        assert (body["oldest_seq"], body["last_seq"]) == (4, 4)
    kept = feed(api, alice, after=3)
    assert [(e["seq"], e["changes"]["title"][1]) for e in kept] == [(4, "new")]
    assert [e["seq"] for e in feed(api, bob)] == [1]


def test_a_feed_pruned_to_nothing_still_reads_from_its_last_position(
    app: Flask, runner: object, api: ApiClient, alice: Account
) -> None:
    new_task(api, alice)
    new_task(api, alice)
    backdate(app, [event["change_id"] for event in feed(api, alice)], days=40)

    result = runner.invoke(args=["changes", "prune"])  # type: ignore[attr-defined]

    assert (
        result.output == "Removed 2 change(s), 0 idempotency key(s) and 0 webhook delivery(ies)\n"
    )
    assert api.get("/api/events?after=2", alice.token).get_json()["events"] == []
    body = assert_problem(api.get("/api/events?after=1", alice.token), 410)
    assert (body["oldest_seq"], body["last_seq"]) == (3, 2)
    new_task(api, alice, title="after the prune")
    assert [e["seq"] for e in feed(api, alice, after=2)] == [3]


@pytest.fixture
def week(make_app: Callable[..., Flask]) -> Flask:
    return make_app(CHANGE_RETENTION_DAYS=7)


def test_prune_keeps_what_the_retention_setting_keeps(week: Flask, alice: Account) -> None:
    api = ApiClient(week.test_client())
    for _ in range(3):
        new_task(api, alice)
    first, second, third = (event["change_id"] for event in feed(api, alice))
    backdate(week, [first], days=8)
    backdate(week, [second], days=6)

    result = week.test_cli_runner().invoke(args=["changes", "prune"])

    assert (
        result.output == "Removed 1 change(s), 0 idempotency key(s) and 0 webhook delivery(ies)\n"
    )
    assert [change for _, _, change in entries(week)] == [second, third]


def test_prune_with_nothing_to_remove_says_so(runner: object, api: ApiClient, alice: Account):
    new_task(api, alice)

    result = runner.invoke(args=["changes", "prune"])  # type: ignore[attr-defined]

    assert (
        result.output == "Removed 0 change(s), 0 idempotency key(s) and 0 webhook delivery(ies)\n"
    )
    assert len(feed(api, alice)) == 1
