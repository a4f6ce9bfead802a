"""Sharing routes (docs/api.md, Sharing): share by username or email, change the
permission by sharing again, list and remove shares, every refusal, clean-up when a task
or an account goes, and the signals sent after each committed change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable import signals
from doable.extensions import db
from doable.sharing.models import Share
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.signals import Event, SignalRecorder, recording

PROBLEM_JSON = "application/problem+json"

# --- helpers -------------------------------------------------------------------------


def add_task(api: ApiClient, account: Account, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/tasks", account.token, json={"title": "Plan the trip", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def post_share(api: ApiClient, owner: Account, task_id: int, **body: Any) -> Any:
    return api.post(f"/api/tasks/{task_id}/share", owner.token, json=body)


def share_rows(app: Flask) -> list[tuple[int, int, str]]:
    """Every share, straight from the database: (task_id, user_id, permission)."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(Share.task_id, Share.user_id, Share.permission).order_by(
                Share.task_id, Share.user_id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def task_ids(app: Flask) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Task.id)))


def user_ref(account: Account) -> dict[str, Any]:
    return {"id": account.id, "username": account.username}


@pytest.fixture
def task(api: ApiClient, alice: Account) -> dict[str, Any]:
    return add_task(api, alice)


# --- POST /api/tasks/<id>/share ------------------------------------------------------


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_share_by_username_returns_201_and_stores_the_share(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    task: dict[str, Any],
    permission: str,
) -> None:
    response = post_share(api, alice, task["id"], username="bob", permission=permission)

    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "task_id": task["id"],
        "user": user_ref(bob),
        "permission": permission,
    }
    assert share_rows(app) == [(task["id"], bob.id, permission)]


@pytest.mark.parametrize("username", ["BOB", "Bob", "bOb"])
def test_share_by_username_ignores_case(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any], username: str
) -> None:
    response = post_share(api, alice, task["id"], username=username, permission="view")

    assert response.status_code == 201
    assert response.get_json()["user"] == user_ref(bob)
    assert share_rows(app) == [(task["id"], bob.id, "view")]


@pytest.mark.parametrize("email", ["bob@example.com", "BOB@Example.COM"])
def test_share_by_email_ignores_case(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any], email: str
) -> None:
    response = post_share(api, alice, task["id"], email=email, permission="edit")

    assert response.status_code == 201
    assert response.get_json() == {
        "task_id": task["id"],
        "user": user_ref(bob),
        "permission": "edit",
    }
    assert share_rows(app) == [(task["id"], bob.id, "edit")]


@pytest.mark.parametrize(("first", "second"), [("view", "edit"), ("edit", "view")])
def test_share_again_with_other_permission_returns_200_and_changes_it(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    task: dict[str, Any],
    first: str,
    second: str,
) -> None:
    share(api, alice, task["id"], bob, first)

    response = post_share(api, alice, task["id"], email=bob.email, permission=second)

    assert response.status_code == 200
    assert response.get_json() == {
        "task_id": task["id"],
        "user": user_ref(bob),
        "permission": second,
    }
    assert share_rows(app) == [(task["id"], bob.id, second)]


def test_share_again_changes_what_the_sharee_sees(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")
    assert api.get(f"/api/tasks/{task['id']}", bob.token).get_json()["access"] == "view"

    response = post_share(api, alice, task["id"], username="bob", permission="edit")

    assert response.status_code == 200
    assert api.get(f"/api/tasks/{task['id']}", bob.token).get_json()["access"] == "edit"


def test_share_with_several_users_keeps_each_share(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")

    response = post_share(api, alice, task["id"], username="carol", permission="edit")

    assert response.status_code == 201
    assert share_rows(app) == [(task["id"], bob.id, "view"), (task["id"], carol.id, "edit")]


def test_share_makes_the_task_visible_to_the_sharee(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    assert_problem(api.get(f"/api/tasks/{task['id']}", bob.token), 404)

    share(api, alice, task["id"], bob, "view")

    response = api.get(f"/api/tasks/{task['id']}", bob.token)
    assert response.status_code == 200
    assert response.get_json()["owner"] == user_ref(alice)
    assert response.get_json()["access"] == "view"


# --- refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_share_by_sharee_returns_403_and_changes_nothing(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    permission: str,
) -> None:
    share(api, alice, task["id"], bob, permission)

    response = post_share(api, bob, task["id"], username="carol", permission="view")

    assert_problem(response, 403)
    assert share_rows(app) == [(task["id"], bob.id, permission)]


def test_share_by_sharee_raising_own_permission_returns_403_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")

    response = post_share(api, bob, task["id"], username="bob", permission="edit")

    assert_problem(response, 403)
    assert share_rows(app) == [(task["id"], bob.id, "view")]


def test_share_by_stranger_returns_404_like_a_missing_task(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    never = 999

    hidden = post_share(api, bob, task["id"], username="carol", permission="view")
    missing = post_share(api, bob, never, username="carol", permission="view")

    hidden_body = assert_problem(hidden, 404)
    missing_body = assert_problem(missing, 404)
    assert hidden_body["detail"].replace(str(task["id"]), "<id>") == missing_body["detail"].replace(
        str(never), "<id>"
    )
    assert share_rows(app) == []


@pytest.mark.parametrize(
    "who",
    [{"username": "nobody"}, {"email": "nobody@example.com"}],
    ids=["username", "email"],
)
def test_share_with_unknown_user_returns_404_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any], who: dict[str, str]
) -> None:
    response = post_share(api, alice, task["id"], permission="view", **who)

    assert_problem(response, 404)
    assert share_rows(app) == []


@pytest.mark.parametrize(
    "who",
    [{"username": "alice"}, {"username": "ALICE"}, {"email": "Alice@Example.com"}],
    ids=["username", "username-other-case", "email"],
)
def test_share_with_oneself_returns_400_and_stores_nothing(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any], who: dict[str, str]
) -> None:
    response = post_share(api, alice, task["id"], permission="edit", **who)

    assert_problem(response, 400)
    assert share_rows(app) == []


INVALID_SHARES = {
    "neither-user": ({"permission": "view"}, {"username", "email"}),
    "both-users": (
        {"username": "bob", "email": "bob@example.com", "permission": "view"},
        {"username", "email"},
    ),
    "permission-missing": ({"username": "bob"}, {"permission"}),
    "permission-unknown": ({"username": "bob", "permission": "admin"}, {"permission"}),
    "permission-owner": ({"username": "bob", "permission": "owner"}, {"permission"}),
    "permission-wrong-case": ({"username": "bob", "permission": "VIEW"}, {"permission"}),
    "permission-null": ({"username": "bob", "permission": None}, {"permission"}),
    "username-empty": ({"username": "", "permission": "view"}, {"username"}),
    "username-number": ({"username": 5, "permission": "view"}, {"username"}),
    "unknown-field": ({"username": "bob", "permission": "view", "note": "hi"}, {"note"}),
    "user-id-field": ({"user_id": 2, "permission": "view"}, {"user_id"}),
}


@pytest.mark.parametrize(("body", "fields"), INVALID_SHARES.values(), ids=list(INVALID_SHARES))
def test_share_invalid_body_returns_400_naming_fields_and_stores_nothing(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    task: dict[str, Any],
    body: dict[str, Any],
    fields: set[str],
) -> None:
    response = post_share(api, alice, task["id"], **body)

    problem = assert_problem(response, 400)
    assert fields <= set(problem["errors"])
    assert share_rows(app) == []


def test_share_without_token_returns_401_and_stores_nothing(
    api: ApiClient, app: Flask, bob: Account, task: dict[str, Any]
) -> None:
    response = api.post(
        f"/api/tasks/{task['id']}/share", json={"username": "bob", "permission": "view"}
    )

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert share_rows(app) == []


# --- GET /api/tasks/<id>/share -------------------------------------------------------


def test_list_shares_returns_every_share_in_the_order_made(
    api: ApiClient, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], carol, "edit")
    share(api, alice, task["id"], bob, "view")

    response = api.get(f"/api/tasks/{task['id']}/share", alice.token)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "shares": [
            {"task_id": task["id"], "user": user_ref(carol), "permission": "edit"},
            {"task_id": task["id"], "user": user_ref(bob), "permission": "view"},
        ]
    }


def test_list_shares_of_unshared_task_returns_empty_list(
    api: ApiClient, alice: Account, task: dict[str, Any]
) -> None:
    response = api.get(f"/api/tasks/{task['id']}/share", alice.token)

    assert response.status_code == 200
    assert response.get_json() == {"shares": []}


def test_list_shares_shows_only_that_tasks_shares(
    api: ApiClient, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    other = add_task(api, alice, title="other")
    share(api, alice, other["id"], carol, "view")
    share(api, alice, task["id"], bob, "edit")

    response = api.get(f"/api/tasks/{task['id']}/share", alice.token)

    assert response.get_json() == {
        "shares": [{"task_id": task["id"], "user": user_ref(bob), "permission": "edit"}]
    }


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_list_shares_by_sharee_returns_403(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any], permission: str
) -> None:
    share(api, alice, task["id"], bob, permission)

    response = api.get(f"/api/tasks/{task['id']}/share", bob.token)

    problem = assert_problem(response, 403)
    assert "shares" not in problem


def test_list_shares_by_stranger_returns_404(
    api: ApiClient, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")

    response = api.get(f"/api/tasks/{task['id']}/share", carol.token)

    assert_problem(response, 404)
    assert "bob" not in response.get_data(as_text=True)


# --- DELETE /api/tasks/<id>/share/<user_id> ------------------------------------------


def test_unshare_returns_204_and_removes_only_that_share(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "edit")
    share(api, alice, task["id"], carol, "view")

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert share_rows(app) == [(task["id"], carol.id, "view")]
    assert task_ids(app) == {task["id"]}


def test_unshare_hides_the_task_from_the_former_sharee(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "edit")

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token)

    assert response.status_code == 204
    assert_problem(api.get(f"/api/tasks/{task['id']}", bob.token), 404)
    assert api.get("/api/tasks", bob.token).get_json()["total"] == 0


@pytest.mark.parametrize("target", ["never-shared", "unknown-user", "huge-id"])
def test_unshare_user_the_task_is_not_shared_with_returns_404_and_changes_nothing(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    target: str,
) -> None:
    share(api, alice, task["id"], bob, "view")
    user_id = {"never-shared": carol.id, "unknown-user": 999, "huge-id": 2**40}[target]

    response = api.delete(f"/api/tasks/{task['id']}/share/{user_id}", alice.token)

    assert_problem(response, 404)
    assert share_rows(app) == [(task["id"], bob.id, "view")]


def test_unshare_twice_returns_404_the_second_time(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")
    assert api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token).status_code == 204

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token)

    assert_problem(response, 404)
    assert share_rows(app) == []


def test_unshare_the_owner_returns_404(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")

    response = api.delete(f"/api/tasks/{task['id']}/share/{alice.id}", alice.token)

    assert_problem(response, 404)
    assert share_rows(app) == [(task["id"], bob.id, "view")]


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_unshare_by_sharee_returns_403_and_changes_nothing(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    permission: str,
) -> None:
    share(api, alice, task["id"], bob, permission)
    share(api, alice, task["id"], carol, "view")
    before = share_rows(app)

    response = api.delete(f"/api/tasks/{task['id']}/share/{carol.id}", bob.token)

    assert_problem(response, 403)
    assert share_rows(app) == before


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_unshare_own_share_by_sharee_returns_204_and_the_owner_keeps_the_task(
    api: ApiClient,
    app: Flask,
    alice: Account,
    bob: Account,
    carol: Account,
    task: dict[str, Any],
    permission: str,
) -> None:
    share(api, alice, task["id"], bob, permission)
    share(api, alice, task["id"], carol, "view")

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", bob.token)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert share_rows(app) == [(task["id"], carol.id, "view")]
    assert task_ids(app) == {task["id"]}
    assert api.get("/api/tasks", bob.token).get_json()["total"] == 0
    assert_problem(api.get(f"/api/tasks/{task['id']}", bob.token), 404)
    assert api.get("/api/tasks", alice.token).get_json()["total"] == 1
    assert api.get(f"/api/tasks/{task['id']}", alice.token).get_json()["title"] == task["title"]


def test_unshare_own_share_twice_returns_404_the_second_time(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")
    assert api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", bob.token).status_code == 204

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", bob.token)

    assert_problem(response, 404)
    assert share_rows(app) == []
    assert task_ids(app) == {task["id"]}


def test_unshare_by_stranger_returns_404_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "view")

    response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", carol.token)

    assert_problem(response, 404)
    assert share_rows(app) == [(task["id"], bob.id, "view")]


# --- clean-up ------------------------------------------------------------------------


def test_delete_task_removes_its_shares(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    other = add_task(api, alice, title="other")
    share(api, alice, task["id"], bob, "edit")
    share(api, alice, task["id"], carol, "view")
    share(api, alice, other["id"], bob, "view")

    response = api.delete(f"/api/tasks/{task['id']}", alice.token)

    assert response.status_code == 204
    assert share_rows(app) == [(other["id"], bob.id, "view")]
    assert_problem(api.get(f"/api/tasks/{task['id']}", bob.token), 404)


def test_delete_sharee_account_removes_their_shares_and_keeps_the_task(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "edit")
    share(api, alice, task["id"], carol, "view")

    response = api.delete("/api/me", bob.token, json={"current_password": bob.password})

    assert response.status_code == 204
    assert share_rows(app) == [(task["id"], carol.id, "view")]
    assert task_ids(app) == {task["id"]}
    listing = api.get(f"/api/tasks/{task['id']}/share", alice.token).get_json()
    assert listing == {
        "shares": [{"task_id": task["id"], "user": user_ref(carol), "permission": "view"}]
    }


def test_delete_owner_account_removes_their_tasks_and_shares(
    api: ApiClient, app: Flask, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    share(api, alice, task["id"], bob, "edit")

    response = api.delete("/api/me", alice.token, json={"current_password": alice.password})

    assert response.status_code == 204
    assert share_rows(app) == []
    assert task_ids(app) == set()
    assert api.get("/api/tasks", bob.token).get_json()["total"] == 0


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
    names = ("created", "updated", "deleted", "shared", "unshared")
    with recording(committed_shares, *names) as recorder:
        yield recorder


def test_share_sends_task_shared_to_the_sharee_once_after_commit(
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
    assert recorder.events == [Event("shared", app, task["id"], [bob.id], [(bob.id, "view")])]


def test_share_again_sends_task_updated_once_after_commit(
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
        Event("updated", app, task["id"], [alice.id, bob.id], [(bob.id, "edit")])
    ]


def test_unshare_sends_task_unshared_to_the_former_sharee_once_after_commit(
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
    assert recorder.events == [Event("unshared", app, task["id"], [bob.id], [])]


def test_update_shared_task_sends_task_updated_to_owner_and_sharees(
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
            [alice.id, bob.id, carol.id],
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
def test_unshare_names_the_owner_to_tell_only_when_the_sharee_left(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any], leaving: bool
) -> None:
    share(api, alice, task["id"], bob, "edit")
    sent: list[dict[str, Any]] = []

    def receive(sender: Any, **payload: Any) -> None:
        sent.append(payload)

    with signals.task_unshared.connected_to(receive):
        actor = bob if leaving else alice
        response = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", actor.token)

    assert response.status_code == 204
    owner_id = alice.id if leaving else None
    assert sent == [{"task_id": task["id"], "audience": [bob.id], "owner_id": owner_id}]
