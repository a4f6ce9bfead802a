"""Sharing a task (docs/api.md, Sharing): by username or email in any case, a new
permission by sharing again, and every refusal, which stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.support.factories import Account, ApiClient, assert_problem, share
from tests.support.sharing import post_share, share_rows, user_ref

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
