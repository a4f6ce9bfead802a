"""``/api/notifications``: your list, newest first, with the unread count; marking one
or all read; another user's notification is not found."""

from __future__ import annotations

from typing import Any

from flask import Flask

from doable.extensions import db
from doable.notifications import service
from doable.unit_of_work import unit_of_work
from tests.support.factories import Account, ApiClient, assert_problem


def notify(app: Flask, user: Account, *titles: str) -> list[int]:
    """Notifications for ``user``, as the worker writes them; their ids."""
    with app.app_context(), unit_of_work():
        created = [service.create(user_id=user.id, kind="reminder", title=t) for t in titles]
        db.session.flush()
        return [notification.id for notification in created]


def test_list_newest_first_with_the_unread_count(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    notify(app, alice, "first", "second", "third")
    notify(app, bob, "not yours")

    response = api.get("/api/notifications?per_page=2", alice.token)

    assert response.status_code == 200
    body = response.get_json()
    assert [n["title"] for n in body["notifications"]] == ["third", "second"]
    assert (body["unread"], body["total"], body["page"], body["per_page"], body["pages"]) == (
        3,
        3,
        1,
        2,
        2,
    )
    first = body["notifications"][0]
    assert set(first) == {"id", "kind", "task_id", "title", "body", "data", "created_at", "read_at"}
    assert first["read_at"] is None
    assert first["created_at"].endswith("Z")


def test_mark_one_read_then_filter_by_unread(app: Flask, api: ApiClient, alice: Account) -> None:
    first, second = notify(app, alice, "first", "second")

    response = api.post(f"/api/notifications/{first}/read", alice.token)
    again = api.post(f"/api/notifications/{first}/read", alice.token)

    assert response.status_code == 200
    assert response.get_json()["read_at"] is not None
    assert again.get_json()["read_at"] == response.get_json()["read_at"]  # unchanged
    unread = api.get("/api/notifications?unread=true", alice.token).get_json()
    assert [n["id"] for n in unread["notifications"]] == [second]
    assert unread["unread"] == 1
    read = api.get("/api/notifications?unread=false", alice.token).get_json()
    assert [n["id"] for n in read["notifications"]] == [first]


def test_mark_all_read(app: Flask, api: ApiClient, alice: Account, bob: Account) -> None:
    notify(app, alice, "first", "second")
    notify(app, bob, "bob's")

    response = api.post("/api/notifications/read", alice.token)

    assert response.status_code == 200
    assert response.get_json() == {"unread": 0}
    assert api.get("/api/notifications", bob.token).get_json()["unread"] == 1


def test_another_users_notification_is_not_found(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    [theirs] = notify(app, bob, "bob's")

    for notification_id in (theirs, 999999):
        response = api.post(f"/api/notifications/{notification_id}/read", alice.token)
        body = assert_problem(response, 404)
        assert body["type"].endswith("/notification-not-found")
    assert api.get("/api/notifications", bob.token).get_json()["unread"] == 1


def test_a_bad_query_is_400_naming_the_parameter(api: ApiClient, alice: Account) -> None:
    for query, field in (
        ("unread=maybe", "unread"),
        ("per_page=0", "per_page"),
        ("page=x", "page"),
    ):
        response = api.get(f"/api/notifications?{query}", alice.token)
        assert field in str(assert_problem(response, 400)["errors"])


def test_the_oldest_go_beyond_the_limit(make_app: Any) -> None:
    app = make_app(MAX_NOTIFICATIONS_PER_USER=3)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    notify(app, alice, "1", "2", "3", "4", "5")

    body = api.get("/api/notifications", alice.token).get_json()

    assert [n["title"] for n in body["notifications"]] == ["5", "4", "3"]
    assert body["total"] == 3


def test_a_notification_is_in_the_change_feed(app: Flask, api: ApiClient, alice: Account) -> None:
    [notification_id] = notify(app, alice, "Reminder: Standup")

    events = api.get("/api/events?after=0", alice.token).get_json()

    [event] = [e for e in events["events"] if e["entity"]["type"] == "notification"]
    assert event["action"] == "notification_created"
    assert event["changes"]["notification"][1]["id"] == notification_id
    assert event["changes"]["notification"][1]["title"] == "Reminder: Standup"
