"""Sharing from a task's page: the owner shares and unshares, a sharee leaves."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.sharing.models import Share
from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser, field_errors, input_value


def _shares(app: Flask) -> list[tuple[int, int, str]]:
    with app.app_context():
        rows = db.session.execute(sa.select(Share.task_id, Share.user_id, Share.permission))
        return sorted(tuple(row) for row in rows)  # type: ignore[misc]


@pytest.fixture
def task_id(api: ApiClient, alice: Account) -> int:
    return int(api.post("/api/tasks", alice.token, json={"title": "Plan"}).json["id"])


@pytest.mark.parametrize("who", ["bob", "BOB@example.com"])
def test_share_by_username_or_email_shares_and_lists_the_user(
    app: Flask, browse: Callable[..., Browser], alice: Account, bob: Account, task_id: int,
    who: str,
) -> None:  # fmt: skip
    browser = browse(alice)

    response = browser.post(
        f"/tasks/{task_id}/share", {"share-who": who, "share-permission": "edit"}
    )

    assert response.status_code == 302
    assert _shares(app) == [(task_id, bob.id, "edit")]
    page = browser.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "Shared with bob: edit." in page
    assert f'action="/tasks/{task_id}/share/{bob.id}/delete"' in page


def test_share_again_changes_the_permission(
    app: Flask, browse: Callable[..., Browser], alice: Account, bob: Account, task_id: int
) -> None:
    browser = browse(alice)
    browser.post(f"/tasks/{task_id}/share", {"share-who": "bob", "share-permission": "edit"})

    browser.post(f"/tasks/{task_id}/share", {"share-who": "bob", "share-permission": "view"})

    assert _shares(app) == [(task_id, bob.id, "view")]


@pytest.mark.parametrize(
    ("who", "message"),
    [("nobody", "User 'nobody' not found"), ("alice", "You cannot share a task with yourself")],
)
def test_share_with_unknown_user_or_self_shows_error_by_the_field(
    app: Flask, browse: Callable[..., Browser], alice: Account, task_id: int, who: str,
    message: str,
) -> None:  # fmt: skip
    response = browse(alice).post(
        f"/tasks/{task_id}/share", {"share-who": who, "share-permission": "view"}
    )

    assert response.status_code == 400
    assert field_errors(response, "share-who") == [message]
    assert input_value(response, "share-who") == who
    assert _shares(app) == []


def test_share_with_bad_permission_shows_the_schema_error(
    app: Flask, browse: Callable[..., Browser], alice: Account, bob: Account, task_id: int
) -> None:
    response = browse(alice).post(
        f"/tasks/{task_id}/share", {"share-who": "bob", "share-permission": "own"}
    )

    assert response.status_code == 400
    assert field_errors(response, "share-permission") == ["Must be one of: view, edit."]
    assert _shares(app) == []


def test_share_by_edit_sharee_is_a_403_page(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    carol: Account, task_id: int,
) -> None:  # fmt: skip
    api.post(
        f"/api/tasks/{task_id}/share", alice.token, json={"username": "bob", "permission": "edit"}
    )

    response = browse(bob).post(
        f"/tasks/{task_id}/share", {"share-who": "carol", "share-permission": "edit"}
    )

    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert _shares(app) == [(task_id, bob.id, "edit")]


def test_unshare_removes_the_share(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    task_id: int,
) -> None:  # fmt: skip
    api.post(
        f"/api/tasks/{task_id}/share", alice.token, json={"username": "bob", "permission": "view"}
    )

    response = browse(alice).post(f"/tasks/{task_id}/share/{bob.id}/delete")

    assert response.status_code == 302
    assert _shares(app) == []
    assert browse(bob).get(f"/tasks/{task_id}").status_code == 404


def test_unshare_of_another_sharee_by_a_sharee_is_a_403_page(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    carol: Account, task_id: int,
) -> None:  # fmt: skip
    for name in ("bob", "carol"):
        body = {"username": name, "permission": "edit"}
        api.post(f"/api/tasks/{task_id}/share", alice.token, json=body)

    response = browse(bob).post(f"/tasks/{task_id}/share/{carol.id}/delete")

    assert response.status_code == 403
    assert _shares(app) == [(task_id, bob.id, "edit"), (task_id, carol.id, "edit")]


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_sharee_page_offers_leave_and_leaving_removes_only_their_share(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    carol: Account, task_id: int, permission: str,
) -> None:  # fmt: skip
    for name in ("bob", "carol"):
        body = {"username": name, "permission": permission}
        api.post(f"/api/tasks/{task_id}/share", alice.token, json=body)
    browser = browse(bob)
    page = browser.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert f'action="/tasks/{task_id}/leave"' in page
    assert "Leave this task" in page

    response = browser.post(f"/tasks/{task_id}/leave")

    assert response.status_code == 302
    assert response.headers["Location"] == "/tasks"
    assert _shares(app) == [(task_id, carol.id, permission)]
    listing = browser.get("/tasks").get_data(as_text=True)
    assert "You left “Plan”; it is no longer shared with you." in listing
    assert f'href="/tasks/{task_id}"' not in listing
    assert browser.get(f"/tasks/{task_id}").status_code == 404
    assert browse(alice).get(f"/tasks/{task_id}").status_code == 200


def test_owner_page_offers_no_leave(
    browse: Callable[..., Browser], alice: Account, task_id: int
) -> None:
    page = browse(alice).get(f"/tasks/{task_id}").get_data(as_text=True)

    assert "/leave" not in page


def test_leave_without_csrf_token_changes_nothing(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    task_id: int,
) -> None:  # fmt: skip
    body = {"username": "bob", "permission": "view"}
    api.post(f"/api/tasks/{task_id}/share", alice.token, json=body)

    response = browse(bob).client.post(f"/tasks/{task_id}/leave")

    assert response.status_code == 400
    assert _shares(app) == [(task_id, bob.id, "view")]


def test_leave_by_a_stranger_is_a_404_page(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    carol: Account, task_id: int,
) -> None:  # fmt: skip
    body = {"username": "bob", "permission": "view"}
    api.post(f"/api/tasks/{task_id}/share", alice.token, json=body)

    response = browse(carol).post(f"/tasks/{task_id}/leave")

    assert response.status_code == 404
    assert _shares(app) == [(task_id, bob.id, "view")]
