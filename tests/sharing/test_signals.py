"""The changes a share, a new permission or an unshare logs, as
``signals.changes_committed`` delivers them: once, after the commit, to the feeds of
the right users, and none for a refused change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable import signals
from doable.changes.log import Committed
from doable.sharing.models import Share
from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.sharing import post_share
from tests.support.signals import Event, SignalRecorder, recording

# --- signals -------------------------------------------------------------------------


def committed_shares(connection: sa.Connection, task_id: int) -> list[tuple[int, str]]:
    rows = connection.execute(
        sa.select(Share.user_id, Share.permission)
        .where(Share.task_id == task_id)
        .order_by(Share.user_id)
    )
    return [(user_id, permission) for user_id, permission in rows]


@pytest.fixture
def recorder() -> Iterator[SignalRecorder]:
    with recording(committed_shares) as recorder:
        yield recorder


def test_share_goes_to_the_owner_and_the_sharee_once_after_commit(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    task: dict[str, Any],
    recorder: SignalRecorder,
) -> None:
    recorder.events.clear()

    response = post_share(api, alice, task["id"], username="bob", permission="view")

    assert response.status_code == 201
    assert recorder.events == [
        Event("shared", app, task["id"], [alice.id, bob.id], [(bob.id, "view")])
    ]


def test_share_again_sends_share_updated_once_after_commit(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    task: dict[str, Any],
    recorder: SignalRecorder,
) -> None:
    share(api, alice, task["id"], bob, "view")
    recorder.events.clear()

    response = post_share(api, alice, task["id"], username="bob", permission="edit")

    assert response.status_code == 200
    assert recorder.events == [
        Event("share_updated", app, task["id"], [alice.id, bob.id], [(bob.id, "edit")])
    ]


def test_unshare_goes_to_the_owner_and_the_former_sharee_once_after_commit(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    task: dict[str, Any],
    recorder: SignalRecorder,
) -> None:
    share(api, alice, task["id"], bob, "edit")
    recorder.events.clear()

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token)

    assert response.status_code == 204
    assert recorder.events == [Event("unshared", app, task["id"], [alice.id, bob.id], [])]


def test_update_shared_task_goes_to_everyone_who_sees_it_once_after_commit(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    recorder: SignalRecorder,
) -> None:
    share(api, alice, task["id"], bob, "edit")
    share(api, alice, task["id"], carol, "view")
    recorder.events.clear()

    response = api.patch(f"/api/tasks/{task['id']}", bob.token, json={"title": "by bob"})

    assert response.status_code == 200
    assert recorder.events == [
        Event(
            "updated",
            app,
            task["id"],
            sorted([alice.id, bob.id, carol.id]),
            [(bob.id, "edit"), (carol.id, "view")],
        )
    ]


REFUSED_SHARES = {
    "sharee-shares": ("bob", {"username": "carol", "permission": "view"}, 403),
    "stranger-shares": ("carol", {"username": "bob", "permission": "edit"}, 404),
    "unknown-user": ("alice", {"username": "nobody", "permission": "view"}, 404),
    "self": ("alice", {"username": "alice", "permission": "view"}, 400),
    "bad-permission": ("alice", {"username": "carol", "permission": "admin"}, 400),
}


@pytest.mark.parametrize(
    ("actor", "body", "status"), REFUSED_SHARES.values(), ids=list(REFUSED_SHARES)
)
def test_share_refused_sends_no_signal(
    api: ApiClient,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    recorder: SignalRecorder,
    actor: str,
    body: dict[str, Any],
    status: int,
) -> None:
    share(api, alice, task["id"], bob, "view")
    accounts = {"alice": alice, "bob": bob, "carol": carol}
    recorder.events.clear()

    response = post_share(api, accounts[actor], task["id"], **body)

    assert_problem(response, status)
    assert recorder.events == []


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [("bob", "carol", 403), ("dave", "bob", 404)],
    ids=["sharee-removes-another", "stranger"],
)
def test_unshare_refused_sends_no_signal(
    api: ApiClient,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    recorder: SignalRecorder,
    actor: str,
    target: str,
    status: int,
) -> None:
    share(api, alice, task["id"], bob, "view")
    share(api, alice, task["id"], carol, "view")
    accounts = {"bob": bob, "carol": carol, "dave": api.account("dave")}
    recorder.events.clear()

    response = api.delete(
        f"/api/tasks/{task['id']}/share/{accounts[target].id}", accounts[actor].token
    )

    assert_problem(response, status)
    assert recorder.events == []


@pytest.mark.parametrize("leaving", [False, True], ids=["owner-removes", "sharee-leaves"])
def test_unshare_goes_to_the_owner_and_the_sharee_whoever_removed_it(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any], leaving: bool
) -> None:
    share(api, alice, task["id"], bob, "edit")
    sent: list[Committed] = []

    def receive(sender: Any, changes: list[Committed], **_: Any) -> None:
        sent.extend(changes)

    with signals.changes_committed.connected_to(receive):
        actor = bob if leaving else alice
        response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", actor.token)

    assert response.status_code == 204
    assert [(c.recorded.action, c.recorded.actor_id, sorted(c.seqs)) for c in sent] == [
        ("unshared", actor.id, sorted([alice.id, bob.id]))
    ]
