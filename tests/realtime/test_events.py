"""Real-time events (docs/api.md) over real servers: who receives which event, with what
payload, exactly once.

On the PostgreSQL deployment every listener is on the first instance and every change
goes through the second, so each delivery below has crossed processes through Redis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import REDIS_TEST_URL
from tests.realtime.conftest import Deployment
from tests.support.factories import PASSWORD, Account
from tests.support.realtime import WAIT, Listener, listen, new_user
from tests.support.servers import wait_for

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


def without_seq(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if key != "seq"}


def feed(user: Account, deployment: Deployment, after: int = 0) -> list[dict]:
    """The user's feed after ``after``, every page of it."""
    events: list[dict] = []
    while True:
        page = change(user, deployment, "GET", f"/api/events?after={after}&limit=500")
        events += page["events"]
        after = page["next_after"]
        if not page["has_more"]:
            return events


def test_owner_editor_and_viewer_each_get_every_event_once_as_they_see_the_task(deployment, watch):
    owner, editor, viewer, stranger = (new_user(deployment.change_url) for _ in range(4))
    to_owner, to_editor, to_viewer, to_stranger = (
        watch(user) for user in (owner, editor, viewer, stranger)
    )

    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Plan the launch"})
    created = to_owner.expect("task_created")
    assert created == {**task, "seq": 1}

    for user, permission, listener in ((editor, "edit", to_editor), (viewer, "view", to_viewer)):
        body = {"username": user.username, "permission": permission}
        change(owner, deployment, "POST", f"/api/tasks/{task['id']}/share", json=body)
        shared = listener.expect("task_shared")
        assert shared == {**read_as(user, deployment, task["id"]), "seq": 1}
        assert shared["access"] == permission
        told = to_owner.expect("task_shared")  # the owner: who it was shared with
        assert told["user"] == {"id": user.id, "username": user.username}
        assert without_seq(told) == {**read_as(owner, deployment, task["id"]), "user": told["user"]}

    change(editor, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"status": "completed"})
    for user, listener, access in (
        (owner, to_owner, "owner"),
        (editor, to_editor, "edit"),
        (viewer, to_viewer, "view"),
    ):
        updated = listener.expect("task_updated")
        assert without_seq(updated) == read_as(user, deployment, task["id"])
        assert (updated["status"], updated["access"]) == ("completed", access)

    change(owner, deployment, "DELETE", f"/api/tasks/{task['id']}")
    for listener, seq in ((to_owner, 5), (to_editor, 3), (to_viewer, 3)):
        assert listener.expect("task_deleted") == {"id": task["id"], "seq": seq}

    for listener in (to_owner, to_editor, to_viewer):
        listener.assert_quiet()  # exactly once
    to_stranger.assert_quiet()


def test_each_event_carries_its_seq_in_the_users_feed(deployment, watch):
    owner = new_user(deployment.change_url)
    to_owner = watch(owner)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Count"})
    heard = [to_owner.expect("task_created")]
    change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"title": "Count 2"})
    # Events read the task when they are sent (docs/api.md): one deleted before its
    # update went out is sent as {id, seq}, so the update is awaited first.
    heard.append(to_owner.expect("task_updated"))
    change(owner, deployment, "DELETE", f"/api/tasks/{task['id']}")
    heard.append(to_owner.expect("task_deleted"))

    assert [event["seq"] for event in heard] == [1, 2, 3]
    assert [(e["seq"], e["action"]) for e in feed(owner, deployment)] == [
        (1, "created"),
        (2, "updated"),
        (3, "deleted"),
    ]


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
    assert to_sharee.expect("task_unshared") == {"id": task["id"], "seq": 2}

    change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"title": "Still secret"})
    assert [to_owner.next()[0] for _ in range(3)] == [
        "task_shared",
        "task_unshared",
        "task_updated",
    ]
    to_sharee.assert_quiet()
    assert [e["action"] for e in feed(sharee, deployment)] == ["shared", "unshared"]


def test_a_sharee_leaving_tells_them_and_the_owner_who_left(deployment, watch):
    owner, sharee = new_user(deployment.change_url), new_user(deployment.change_url)
    to_owner, to_sharee = watch(owner), watch(sharee)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Shared chore"})
    to_owner.expect("task_created")
    body = {"username": sharee.username, "permission": "edit"}
    change(owner, deployment, "POST", f"/api/tasks/{task['id']}/share", json=body)
    to_sharee.expect("task_shared")

    change(sharee, deployment, "DELETE", f"/api/tasks/{task['id']}/share/{sharee.id}")

    assert to_sharee.expect("task_unshared") == {"id": task["id"], "seq": 2}
    assert to_owner.expect("task_shared")["seq"] == 2
    assert to_owner.expect("task_unshared") == {
        "id": task["id"],
        "user": {"id": sharee.id, "username": sharee.username},
        "seq": 3,
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
    category_id = change(owner, deployment, "GET", "/api/categories")["categories"][0]["id"]
    assert to_owner.expect("category_created") == {
        "id": category_id,
        "name": "Work",
        "color": None,
        "seq": 1,
    }
    for _ in range(3):
        to_owner.expect("task_created")
    assert to_owner.expect("task_shared")["seq"] == 5
    to_sharee.expect("task_shared")

    change(owner, deployment, "PUT", f"/api/categories/{category_id}", json={"name": "Job"})

    owner_updates = {to_owner.expect("task_updated")["id"] for _ in tagged}
    assert owner_updates == {task["id"] for task in tagged}
    assert to_owner.expect("category_updated") == {
        "id": category_id,
        "name": "Job",
        "color": None,
        "seq": 8,
    }
    shared = to_sharee.expect("task_updated")
    assert (shared["id"], shared["categories"], shared["seq"]) == (tagged[0]["id"], ["Job"], 2)
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

    assert to_sharee.expect("task_deleted") == {"id": task["id"], "seq": 2}
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


def test_a_client_that_was_away_reads_exactly_what_it_missed_then_goes_on(deployment, watch):
    """Disconnected, 50 changes through another process, connected again: the feed after
    the last ``seq`` it heard holds exactly those 50, in order, and the socket goes on
    at the next ``seq``."""
    owner, sentinel = new_user(deployment.change_url), new_user(deployment.change_url)
    to_sentinel = watch(sentinel)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Followed"})
    first = watch(owner)
    change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"title": "Heard"})
    heard = first.expect("task_updated")["seq"]
    first.close()
    assert first.disconnected.wait(5)

    for n in range(50):
        body = {"title": f"Missed {n}"}
        change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json=body)
    # One queue per process, in order: once this is heard, the 50 were handled.
    change(sentinel, deployment, "POST", "/api/tasks", json={"title": "Barrier"})
    to_sentinel.expect("task_created")
    again = watch(owner)

    missed = feed(owner, deployment, after=heard)
    assert [event["seq"] for event in missed] == list(range(heard + 1, heard + 51))
    assert [(event["action"], event["changes"]["title"][1]) for event in missed] == [
        ("updated", f"Missed {n}") for n in range(50)
    ]
    change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"title": "Back"})
    back = again.expect("task_updated")
    assert (back["seq"], back["title"]) == (heard + 51, "Back")
    again.assert_quiet()


def test_a_redis_flush_loses_no_event_and_the_open_socket_hears_again(deployment, watch):
    """Redis emptied under open sockets (a restart without persistence, a flush): the
    processes put their sockets back when they next vouch for them, the next event's
    ``seq`` jumps past what they missed, and the feed holds all of it."""
    if deployment.redis_prefix is None:
        pytest.skip("one process, no Redis")
    owner = new_user(deployment.change_url)
    to_owner = watch(owner)
    task = change(owner, deployment, "POST", "/api/tasks", json={"title": "Before"})
    assert to_owner.expect("task_created")["seq"] == 1
    client = redis.Redis.from_url(REDIS_TEST_URL)
    try:
        flushed = list(client.scan_iter(f"{deployment.redis_prefix}:rt:*"))
        assert flushed, "the sockets were not registered in Redis"
        client.delete(*flushed)
    finally:
        client.close()

    heard: list[dict] = []

    def renamed_and_heard() -> bool:
        title = f"After {len(feed(owner, deployment))}"
        change(owner, deployment, "PATCH", f"/api/tasks/{task['id']}", json={"title": title})
        with contextlib.suppress(AssertionError):
            heard.append(to_owner.expect("task_updated", timeout=0.5))
        return bool(heard)

    wait_for(renamed_and_heard, "an event after Redis was emptied", limit=2 * WAIT)
    events = feed(owner, deployment)
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert heard[0]["seq"] in {event["seq"] for event in events}
