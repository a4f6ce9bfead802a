"""Real-time events (docs/api.md) over real servers: who receives which event, with what
payload, exactly once.

On the PostgreSQL deployment every listener is on the first instance and every change
goes through the second, so each delivery below has crossed processes through Redis.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.realtime.conftest import Deployment
from tests.support.factories import PASSWORD, Account
from tests.support.realtime import Listener, listen, new_user

pytestmark = pytest.mark.slow


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    opened: list[Listener] = []
    yield opened
    for listener in opened:
        listener.close()


@pytest.fixture
def watch(deployment: Deployment, listeners: list[Listener]):
    def connect(user: Account) -> Listener:
        listener = listen(user, deployment.listen_url)
        listeners.append(listener)
        return listener

    return connect


def change(user: Account, deployment: Deployment, method: str, path: str, **kwargs):
    response = user.call(method, path, base=deployment.change_url, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def read_as(user: Account, deployment: Deployment, task_id: int) -> dict:
    response = user.call("GET", f"/api/tasks/{task_id}", base=deployment.change_url)
    assert response.status_code == 200, response.text
    return response.json()


def without_event_id(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key != "event_id"}


def test_owner_editor_and_viewer_each_get_every_event_once_as_they_see_the_task(deployment, watch):
    owner, editor, viewer, stranger = (new_user(deployment.change_url) for _ in range(4))
    to_owner, to_editor, to_viewer, to_stranger = (
        watch(user) for user in (owner, editor, viewer, stranger)
    )

    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Plan the launch"})
    created = to_owner.expect("task_created")
    assert without_event_id(created) == task

    for user, permission, listener in ((editor, "edit", to_editor), (viewer, "view", to_viewer)):
        body = {"username": user.username, "permission": permission}
        change(owner, deployment, "POST", f"/api/tasks/{task['id']}/share", json=body)
        shared = listener.expect("task_shared")
        assert without_event_id(shared) == read_as(user, deployment, task["id"])
        assert shared["access"] == permission

    change(editor, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"status": "completed"})
    for user, listener, access in (
        (owner, to_owner, "owner"),
        (editor, to_editor, "edit"),
        (viewer, to_viewer, "view"),
    ):
        updated = listener.expect("task_updated")
        assert without_event_id(updated) == read_as(user, deployment, task["id"])
        assert (updated["status"], updated["access"]) == ("completed", access)

    change(owner, deployment, "DELETE", f"/api/tasks/{task['id']}")
    for listener in (to_owner, to_editor, to_viewer):
        assert without_event_id(listener.expect("task_deleted")) == {"id": task["id"]}

    for listener in (to_owner, to_editor, to_viewer):
        listener.assert_quiet()  # exactly once
    to_stranger.assert_quiet()


def test_event_ids_count_up_by_one_for_each_user(deployment, watch):
    owner = new_user(deployment.change_url)
    to_owner = watch(owner)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Count"})
    first = to_owner.expect("task_created")["event_id"]
    change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"title": "Count 2"})
    # Events read the task when they are sent (docs/api.md): one deleted before its
    # update went out gets only task_deleted, so the update is awaited first.
    assert to_owner.expect("task_updated")["event_id"] == first + 1
    change(owner, deployment, "DELETE", f"/api/tasks/{task['id']}")
    assert to_owner.expect("task_deleted")["event_id"] == first + 2


def test_every_socket_of_a_user_gets_the_event(deployment, watch):
    owner = new_user(deployment.change_url)
    sockets = [watch(owner) for _ in range(3)]
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Everywhere"})
    for listener in sockets:
        assert listener.expect("task_created")["id"] == task["id"]


def test_unsharing_tells_the_sharee_once_and_then_nothing_more(deployment, watch):
    owner, sharee = new_user(deployment.change_url), new_user(deployment.change_url)
    to_owner, to_sharee = watch(owner), watch(sharee)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Secret"})
    to_owner.expect("task_created")
    body = {"username": sharee.username, "permission": "view"}
    change(owner, deployment, "POST", f"/api/tasks/{task['id']}/share", json=body)
    to_sharee.expect("task_shared")

    change(owner, deployment, "DELETE", f"/api/tasks/{task['id']}/share/{sharee.id}")
    assert without_event_id(to_sharee.expect("task_unshared")) == {"id": task["id"]}

    change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"title": "Still secret"})
    assert to_owner.expect("task_updated")["title"] == "Still secret"
    to_sharee.assert_quiet()


def test_a_sharee_leaving_tells_them_and_the_owner_who_left(deployment, watch):
    owner, sharee = new_user(deployment.change_url), new_user(deployment.change_url)
    to_owner, to_sharee = watch(owner), watch(sharee)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Shared chore"})
    to_owner.expect("task_created")
    body = {"username": sharee.username, "permission": "edit"}
    change(owner, deployment, "POST", f"/api/tasks/{task['id']}/share", json=body)
    to_sharee.expect("task_shared")

    change(sharee, deployment, "DELETE", f"/api/tasks/{task['id']}/share/{sharee.id}")

    assert without_event_id(to_sharee.expect("task_unshared")) == {"id": task["id"]}
    assert without_event_id(to_owner.expect("task_unshared")) == {
        "id": task["id"],
        "user": {"id": sharee.id, "username": sharee.username},
    }
    change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"title": "Mine again"})
    assert to_owner.expect("task_updated")["title"] == "Mine again"
    to_owner.assert_quiet()
    to_sharee.assert_quiet()


def test_changing_a_share_permission_updates_the_sharee_view(deployment, watch):
    owner, sharee = new_user(deployment.change_url), new_user(deployment.change_url)
    to_sharee = watch(sharee)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Promote"})
    path = f"/api/tasks/{task['id']}/share"
    change(
        owner, deployment, "POST", path, json={"username": sharee.username, "permission": "view"}
    )
    assert to_sharee.expect("task_shared")["access"] == "view"
    change(
        owner, deployment, "POST", path, json={"username": sharee.username, "permission": "edit"}
    )
    assert to_sharee.expect("task_updated")["access"] == "edit"


def test_renaming_a_category_updates_every_tagged_task_for_every_viewer(deployment, watch):
    owner, sharee = new_user(deployment.change_url), new_user(deployment.change_url)
    to_owner, to_sharee = watch(owner), watch(sharee)
    tagged = [
        change(owner, deployment, "POST", "/api/tasks", json={"title": t, "categories": ["Work"]})
        for t in ("One", "Two")
    ]
    untagged = change(owner, deployment, "POST", "/api/tasks", json={"title": "Three"})
    body = {"username": sharee.username, "permission": "view"}
    change(owner, deployment, "POST", f"/api/tasks/{tagged[0]['id']}/share", json=body)
    for _ in range(3):
        to_owner.expect("task_created")
    to_sharee.expect("task_shared")
    category_id = change(owner, deployment, "GET", "/api/categories")["categories"][0]["id"]

    change(owner, deployment, "PUT", f"/api/categories/{category_id}", json={"name": "Job"})

    owner_updates = {to_owner.expect("task_updated")["id"] for _ in tagged}
    assert owner_updates == {task["id"] for task in tagged}
    shared = to_sharee.expect("task_updated")
    assert (shared["id"], shared["categories"]) == (tagged[0]["id"], ["Job"])
    to_owner.assert_quiet()
    to_sharee.assert_quiet()
    assert untagged["id"] not in owner_updates


def test_a_refused_write_sends_nothing(deployment, watch):
    owner = new_user(deployment.change_url)
    to_owner = watch(owner)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Guarded"})
    to_owner.expect("task_created")
    stale = owner.call(
        "PATCH",
        f"/api/tasks/{task['id']}",
        base=deployment.change_url,
        json={"title": "Lost update"},
        headers={"If-Match": '"not-the-current-etag"'},
    )
    invalid = owner.call(
        "PATCH", f"/api/tasks/{task['id']}", base=deployment.change_url, json={"status": "bogus"}
    )
    assert (stale.status_code, invalid.status_code) == (412, 400)
    to_owner.assert_quiet()


def test_deleting_an_account_tells_the_sharees_its_tasks_are_gone(deployment, watch):
    owner, sharee = new_user(deployment.change_url), new_user(deployment.change_url)
    to_owner, to_sharee = watch(owner), watch(sharee)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Legacy"})
    body = {"username": sharee.username, "permission": "edit"}
    change(owner, deployment, "POST", f"/api/tasks/{task['id']}/share", json=body)
    to_sharee.expect("task_shared")

    deleted = owner.call(
        "DELETE", "/api/me", base=deployment.change_url, json={"current_password": PASSWORD}
    )
    assert deleted.status_code == 204, deleted.text

    assert without_event_id(to_sharee.expect("task_deleted")) == {"id": task["id"]}
    assert to_owner.disconnected.wait(5), "the deleted user's socket stayed open"


def test_changes_through_any_worker_reach_sockets_on_every_worker(deployment, watch):
    """The PostgreSQL deployment's first instance runs two workers: sockets and requests
    land on either, and every socket still gets every event."""
    owner = new_user(deployment.listen_url)
    sockets = [watch(owner) for _ in range(6)]
    created = set()
    for n in range(6):
        response = owner.call(
            "POST", "/api/tasks", base=deployment.listen_url, json={"title": f"n{n}"}
        )
        assert response.status_code == 201, response.text
        created.add(response.json()["id"])
    for listener in sockets:
        assert {listener.expect("task_created")["id"] for _ in created} == created
        listener.assert_quiet(0.1)
