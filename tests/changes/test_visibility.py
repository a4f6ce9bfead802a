"""Who gets a change in their feed is decided when it is written, by the one access
rule (docs/api.md, Change feed): a former sharee keeps the ``unshared`` event and
nothing after it; a new sharee sees nothing from before the share but the ``shared``
event, which carries the task as they now see it; category events reach the category's
owner alone; a sharee's edit reaches the owner and every sharee. Deleting an account
tells the others what it did to them."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.changes.feeds import actions, feed, logged, new_task
from tests.support.factories import Account, ApiClient, share

EDIT = {"title": "Edited"}


def patch(api: ApiClient, account: Account, task_id: int, **fields: Any) -> None:
    response = api.patch(f"/api/tasks/{task_id}", account.token, json=fields)
    assert response.status_code == 200, response.get_json()


def unshare(api: ApiClient, account: Account, task_id: int, user_id: int) -> None:
    response = api.delete(f"/api/tasks/{task_id}/share/{user_id}", account.token)
    assert response.status_code == 204, response.get_json()


def test_a_former_sharee_keeps_the_unshared_event_and_nothing_after_it(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task_id = new_task(api, alice)
    share(api, alice, task_id, bob, "view")
    patch(api, alice, task_id, title="While shared")

    unshare(api, alice, task_id, bob.id)
    patch(api, alice, task_id, title="After")
    share_again = api.post(f"/api/tasks/{task_id}/share", alice.token, json={"username": "carol"})
    assert share_again.status_code in (400, 404)  # refused: nothing logged
    assert api.delete(f"/api/tasks/{task_id}", alice.token).status_code == 204

    bobs = feed(api, bob)
    assert actions(bobs) == [("shared", task_id), ("updated", task_id), ("unshared", task_id)]
    assert bobs[-1]["changes"] == {
        "shared_with": [{"id": bob.id, "username": "bob"}, None],
        "permission": ["view", None],
    }
    assert [seq["seq"] for seq in bobs] == [1, 2, 3]
    assert actions(feed(api, alice))[-4:] == [
        ("updated", task_id),
        ("unshared", task_id),
        ("updated", task_id),
        ("deleted", task_id),
    ]


def test_a_sharee_who_leaves_keeps_the_unshared_event_and_the_owner_sees_it(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task_id = new_task(api, alice)
    share(api, alice, task_id, bob, "edit")

    unshare(api, bob, task_id, bob.id)
    patch(api, alice, task_id, title="After")

    assert actions(feed(api, bob)) == [("shared", task_id), ("unshared", task_id)]
    left = feed(api, alice)[-2]
    assert (left["action"], left["actor"]["id"]) == ("unshared", bob.id)


def test_a_new_sharee_sees_only_the_shared_event_carrying_the_task_as_they_see_it(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task_id = new_task(api, alice, title="Before", categories=["Home"])
    patch(api, alice, task_id, title="Still before", priority="high")

    share(api, alice, task_id, bob, "view")

    (shared,) = feed(api, bob)
    as_bob_sees_it = api.get(f"/api/tasks/{task_id}", bob.token).get_json()
    assert (shared["seq"], shared["action"], shared["version"]) == (1, "shared", 2)
    assert shared["task"] == as_bob_sees_it
    assert shared["task"]["access"] == "view"
    assert shared["changes"] == {
        "shared_with": [None, {"id": bob.id, "username": "bob"}],
        "permission": [None, "view"],
    }
    owners = feed(api, alice)[-1]
    assert (owners["action"], owners["change_id"]) == ("shared", shared["change_id"])
    assert "task" not in owners


def test_a_changed_permission_reaches_the_owner_and_that_sharee_only(
    api: ApiClient, alice: Account, bob: Account, carol: Account
) -> None:
    task_id = new_task(api, alice)
    share(api, alice, task_id, bob, "view")
    share(api, alice, task_id, carol, "view")
    again = api.post(
        f"/api/tasks/{task_id}/share", alice.token, json={"username": "bob", "permission": "view"}
    )
    assert again.status_code == 200  # the same permission: no change, nothing logged

    body = {"username": "bob", "permission": "edit"}
    assert api.post(f"/api/tasks/{task_id}/share", alice.token, json=body).status_code == 200

    assert actions(feed(api, bob)) == [("shared", task_id), ("share_updated", task_id)]
    assert feed(api, bob)[-1]["changes"]["permission"] == ["view", "edit"]
    assert actions(feed(api, carol)) == [("shared", task_id)]
    assert [action for action, _ in actions(feed(api, alice))] == [
        "created",
        "shared",
        "shared",
        "share_updated",
    ]


def test_an_edit_sharees_change_reaches_the_owner_and_every_sharee(
    api: ApiClient, alice: Account, bob: Account, carol: Account, app: Flask
) -> None:
    task_id = new_task(api, alice)
    share(api, alice, task_id, bob, "edit")
    share(api, alice, task_id, carol, "view")

    patch(api, bob, task_id, title="Bob's")

    last = [feed(api, account)[-1] for account in (alice, bob, carol)]
    assert {(e["action"], e["actor"]["id"], e["change_id"]) for e in last} == {
        ("updated", bob.id, last[0]["change_id"])
    }
    assert all(e["changes"] == {"title": ["A task", "Bob's"]} for e in last)
    assert logged(app)[-1] == ("task", task_id, "updated")


def test_category_events_reach_the_categorys_owner_alone(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task_id = new_task(api, alice, categories=["Work"])
    share(api, alice, task_id, bob, "edit")
    (work,) = api.get("/api/categories", alice.token).get_json()["categories"]

    patch(api, bob, task_id, categories=["Work", "Urgent"])  # creates alice's "Urgent"
    renamed = api.patch(f"/api/categories/{work['id']}", alice.token, json={"name": "Job"})
    assert renamed.status_code == 200

    alices = feed(api, alice)
    assert [e["action"] for e in alices] == [
        "category_created",
        "created",
        "shared",
        "category_created",
        "updated",
        "updated",  # the rename, as the task's categories
        "category_updated",
    ]
    urgent = alices[3]
    assert (urgent["actor"]["id"], urgent["changes"]["name"]) == (bob.id, [None, "Urgent"])
    bobs = feed(api, bob)
    assert actions(bobs) == [("shared", task_id), ("updated", task_id), ("updated", task_id)]
    assert bobs[-1]["changes"] == {"categories": [["Urgent", "Work"], ["Job", "Urgent"]]}
    assert bobs[-1]["change_id"] == alices[-2]["change_id"]


def test_deleting_an_account_logs_deleted_for_its_sharees_and_unshared_for_owners(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account
) -> None:
    dave = api.account("dave")
    shared = new_task(api, alice, title="Alice's", categories=["Home"])
    new_task(api, alice, title="Private")
    share(api, alice, shared, bob, "edit")
    share(api, alice, shared, carol, "view")
    daves = new_task(api, dave, title="Dave's")
    share(api, dave, daves, alice, "edit")
    before = {account.username: len(feed(api, account)) for account in (bob, carol, dave)}

    response = api.delete("/api/me", alice.token, json={"current_password": alice.password})

    assert response.status_code == 204
    for sharee in (bob, carol):
        (deleted,) = feed(api, sharee, after=before[sharee.username])
        assert (deleted["action"], deleted["task_id"], deleted["version"]) == (
            "deleted",
            shared,
            1,
        )
        assert deleted["actor"] is None  # the account is gone
        assert deleted["changes"] == {
            "title": ["Alice's", None],
            "description": ["", None],
            "status": ["pending", None],
            "priority": ["medium", None],
            "due_date": [None, None],
            "categories": [["Home"], None],
        }
    (left,) = feed(api, dave, after=before["dave"])
    assert (left["action"], left["task_id"]) == ("unshared", daves)
    assert left["changes"] == {
        "shared_with": [{"id": alice.id, "username": "alice"}, None],
        "permission": ["edit", None],
    }
    assert logged(app)[-2:] == [("task", shared, "deleted"), ("task", daves, "unshared")]


def test_deleting_an_account_that_shared_nothing_logs_nothing(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    new_task(api, alice)
    count = len(logged(app))

    response = api.delete("/api/me", alice.token, json={"current_password": alice.password})

    assert response.status_code == 204
    assert len(logged(app)) == count
