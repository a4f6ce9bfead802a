"""GET /api/tasks/<id>/history: a task's changes, newest first and paged, for whoever can
see the task now; changes to its shares only for its owner and the sharee concerned."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.sharing import post_share, user_ref
from tests.support.tasks import create

pytestmark = pytest.mark.usefixtures("app")


def history(api: ApiClient, account: Account, task_id: int, query: str = "") -> dict[str, Any]:
    response = api.get(f"/api/tasks/{task_id}/history?{query}", account.token)
    assert response.status_code == 200, response.get_json()
    return response.json  # type: ignore[no-any-return]


def test_history_says_who_changed_what_from_what_to_what_newest_first(
    api: ApiClient, alice: Account
) -> None:
    task = create(api, alice, title="Report", categories=["Work"])
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"status": "completed"})

    page = history(api, alice, task["id"])

    assert (page["total"], page["page"], page["per_page"], page["pages"]) == (2, 1, 10, 1)
    updated, created = page["changes"]
    assert updated["action"] == "updated"
    assert updated["actor"] == user_ref(alice)
    assert updated["changes"] == {"status": ["pending", "completed"]}
    assert updated["version"] == 2
    assert updated["entity"] == {"type": "task", "id": task["id"]}
    assert updated["change_id"] > created["change_id"]
    assert created["action"] == "created"
    assert created["changes"]["title"] == [None, "Report"]
    assert created["changes"]["categories"] == [None, ["Work"]]
    assert updated["at"] >= created["at"]


def test_history_is_paged(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, title="t0")
    for n in range(1, 5):
        api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": f"t{n}"})

    pages = [history(api, alice, task["id"], f"per_page=2&page={n}") for n in (1, 2, 3, 4)]

    titles = [[c["changes"]["title"][1] for c in page["changes"]] for page in pages]
    assert titles == [["t4", "t3"], ["t2", "t1"], ["t0"], []]
    assert {(page["total"], page["pages"]) for page in pages} == {(5, 3)}


def test_anyone_who_can_see_the_task_reads_all_of_it_including_what_came_before(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task = create(api, alice, title="Plan")
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"priority": "high"})
    share(api, alice, task["id"], bob, "view")

    actions = [c["action"] for c in history(api, bob, task["id"])["changes"]]

    assert actions == ["shared", "updated", "created"]


def test_changes_to_shares_are_shown_to_the_owner_and_the_sharee_concerned_only(
    api: ApiClient, alice: Account, bob: Account, carol: Account
) -> None:
    task = create(api, alice, title="Plan")
    share(api, alice, task["id"], bob, "view")
    share(api, alice, task["id"], carol, "edit")
    assert (
        post_share(api, alice, task["id"], username=bob.username, permission="edit").status_code
        == 200
    )

    def shares_seen(account: Account) -> list[tuple[str, str]]:
        changes = history(api, account, task["id"])["changes"]
        return [
            (c["action"], c["changes"]["shared_with"][1]["username"])
            for c in changes
            if c["action"] != "created"
        ]

    assert shares_seen(alice) == [
        ("share_updated", bob.username),
        ("shared", carol.username),
        ("shared", bob.username),
    ]
    assert shares_seen(bob) == [("share_updated", bob.username), ("shared", bob.username)]
    assert shares_seen(carol) == [("shared", carol.username)]
    assert history(api, carol, task["id"])["total"] == 2


def test_a_former_sharee_sees_its_unshared_change_once_shared_again(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task = create(api, alice, title="Plan")
    share(api, alice, task["id"], bob, "view")
    api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", bob.token)  # bob leaves
    share(api, alice, task["id"], bob, "view")

    actions = [c["action"] for c in history(api, bob, task["id"])["changes"]]

    assert actions == ["shared", "unshared", "shared", "created"]


def test_attachments_added_and_removed_are_in_the_history(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, title="Files")
    data = {"file": (io.BytesIO(b"hello"), "notes.txt", "text/plain")}
    added = api.post(f"/api/tasks/{task['id']}/attachments", alice.token, data=data).json
    api.delete(f"/api/tasks/{task['id']}/attachments/{added['id']}", alice.token)

    deleted, attached, _ = history(api, alice, task["id"])["changes"]

    assert (attached["action"], deleted["action"]) == ("attachment_added", "attachment_deleted")
    assert attached["entity"] == {"type": "attachment", "id": added["id"]}
    assert attached["changes"]["attachment"][1]["filename"] == "notes.txt"


def test_a_task_one_cannot_see_or_that_is_gone_is_404(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task = create(api, alice, title="Private")

    assert_problem(api.get(f"/api/tasks/{task['id']}/history", bob.token), 404)
    api.delete(f"/api/tasks/{task['id']}", alice.token)
    assert_problem(api.get(f"/api/tasks/{task['id']}/history", alice.token), 404)
    assert_problem(api.get("/api/tasks/99999999999/history", alice.token), 404)


@pytest.mark.parametrize("query", ["page=0", "per_page=101", "page=1&page=2"])
def test_a_bad_page_is_400(api: ApiClient, alice: Account, query: str) -> None:
    task = create(api, alice)

    assert_problem(api.get(f"/api/tasks/{task['id']}/history?{query}", alice.token), 400)
