"""An account's time and reminder preferences (docs/api.md, Authentication): the zone
taken at registration, and PATCH /api/me changing the zone, reminder channels and
digest time without the current password."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from tests.support.factories import PASSWORD, ApiClient, assert_problem


def _stored(app: Flask, user_id: int) -> dict[str, Any]:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return {
            "timezone": user.timezone,
            "remind_in_app": user.remind_in_app,
            "remind_by_email": user.remind_by_email,
            "digest_at": user.digest_at,
        }


def test_get_me_shows_the_defaults_of_a_new_account(api: ApiClient) -> None:
    alice = api.account("alice")

    body = api.get("/api/me", alice.token).get_json()

    assert body["timezone"] == "UTC"
    assert body["remind_in_app"] is True
    assert body["remind_by_email"] is True
    assert body["digest_at"] is None


def test_register_with_a_timezone_keeps_it(api: ApiClient, app: Flask) -> None:
    registered = api.register("alice", timezone="America/Los_Angeles")

    assert registered.status_code == 201
    assert _stored(app, registered.get_json()["user_id"])["timezone"] == "America/Los_Angeles"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "europe/berlin", 42, None, "U" * 65])
def test_register_with_an_unknown_timezone_returns_400_naming_it(
    api: ApiClient, app: Flask, zone: Any
) -> None:
    response = api.register("alice", timezone=zone)

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"timezone"}
    assert api.login(username="alice", password=PASSWORD).status_code == 401  # not created


def test_patch_me_timezone_without_current_password_changes_it(api: ApiClient, app: Flask) -> None:
    alice = api.account("alice")

    response = api.patch("/api/me", alice.token, json={"timezone": "Europe/Berlin"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["timezone"] == "Europe/Berlin"
    assert _stored(app, alice.id)["timezone"] == "Europe/Berlin"
    assert api.get("/api/me", alice.token).get_json()["timezone"] == "Europe/Berlin"


def test_patch_me_reminder_channels_changes_them(api: ApiClient, app: Flask) -> None:
    alice = api.account("alice")

    response = api.patch(
        "/api/me", alice.token, json={"remind_in_app": False, "remind_by_email": False}
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["remind_in_app"] is False
    assert _stored(app, alice.id) == {
        "timezone": "UTC",
        "remind_in_app": False,
        "remind_by_email": False,
        "digest_at": None,
    }


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"timezone": "Europe/Berlin\n"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"timezone": ["UTC"]}, "timezone"),
        ({"remind_in_app": "yes"}, "remind_in_app"),
        ({"remind_by_email": None}, "remind_by_email"),
        ({"digest_at": "7:30"}, "digest_at"),
        ({"digest_at": "24:00"}, "digest_at"),
        ({"digest_at": "07:30:00"}, "digest_at"),
        ({"digest_at": 730}, "digest_at"),
        ({"digest_at": "07:30\n"}, "digest_at"),
    ],
)
def test_patch_me_bad_preference_returns_400_naming_it_and_changes_nothing(
    api: ApiClient, app: Flask, fields: dict[str, Any], bad_field: str
) -> None:
    alice = api.account("alice")
    before = _stored(app, alice.id)

    response = api.patch("/api/me", alice.token, json={"remind_in_app": False, **fields})

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {bad_field}
    assert _stored(app, alice.id) == before


@pytest.mark.parametrize("fields", [{"email": "new@example.com"}, {"password": "x" * 12}])
def test_patch_me_email_or_password_without_current_password_returns_400_naming_it(
    api: ApiClient, app: Flask, fields: dict[str, Any]
) -> None:
    alice = api.account("alice")

    response = api.patch("/api/me", alice.token, json={"timezone": "Asia/Kolkata", **fields})

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"current_password"}
    assert _stored(app, alice.id)["timezone"] == "UTC"  # nothing half-done


def test_patch_me_preferences_with_a_wrong_current_password_returns_400(
    api: ApiClient, app: Flask
) -> None:
    """A password that is sent is checked, never ignored."""
    alice = api.account("alice")

    response = api.patch(
        "/api/me", alice.token, json={"timezone": "Asia/Kolkata", "current_password": "wrong!!"}
    )

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"current_password"}
    assert _stored(app, alice.id)["timezone"] == "UTC"


def test_patch_me_email_and_timezone_together_change_both(api: ApiClient, app: Flask) -> None:
    alice = api.account("alice")

    response = api.patch(
        "/api/me",
        alice.token,
        json={"email": "a@example.org", "timezone": "Asia/Kolkata", "current_password": PASSWORD},
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email"] == "a@example.org"
    assert _stored(app, alice.id)["timezone"] == "Asia/Kolkata"


def test_patch_me_preferences_do_not_spend_the_login_budget(make_app: Any) -> None:
    app = make_app(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute")
    api = ApiClient(app.test_client())
    alice = api.account("alice")  # register and log in: two of the three

    zones = ["Europe/Berlin", "Asia/Kolkata", "America/New_York", "Australia/Sydney"]
    statuses = [
        api.patch("/api/me", alice.token, json={"timezone": zone}).status_code for zone in zones
    ]
    checked = api.patch(
        "/api/me", alice.token, json={"email": "a@example.org", "current_password": PASSWORD}
    )
    refused = api.patch(
        "/api/me", alice.token, json={"email": "b@example.org", "current_password": PASSWORD}
    )

    assert statuses == [200, 200, 200, 200]
    assert checked.status_code == 200
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"


def test_patch_me_digest_at_sets_and_clears_the_digest(api: ApiClient, app: Flask) -> None:
    alice = api.account("alice")

    set_at = api.patch("/api/me", alice.token, json={"digest_at": "07:30"})
    shown = api.get("/api/me", alice.token).get_json()["digest_at"]
    cleared = api.patch("/api/me", alice.token, json={"digest_at": None})

    assert set_at.status_code == 200, set_at.get_json()
    assert set_at.get_json()["digest_at"] == "07:30"
    assert shown == "07:30"
    assert cleared.get_json()["digest_at"] is None
    assert _stored(app, alice.id)["digest_at"] is None


def test_patch_me_timezone_moves_the_due_at_of_tasks_that_follow_it(api: ApiClient) -> None:
    alice = api.account("alice")
    body = {"title": "Stand-up", "due_date": "2030-01-07", "due_time": "09:00"}
    follows = api.post("/api/tasks", alice.token, json=body).get_json()
    own = api.post("/api/tasks", alice.token, json={**body, "timezone": "Asia/Tokyo"}).get_json()

    response = api.patch("/api/me", alice.token, json={"timezone": "Europe/Berlin"})

    assert response.status_code == 200
    assert follows["due_at"] == "2030-01-07T09:00:00Z"
    moved = api.get(f"/api/tasks/{follows['id']}", alice.token).get_json()
    kept = api.get(f"/api/tasks/{own['id']}", alice.token).get_json()
    assert moved["due_at"] == "2030-01-07T08:00:00Z"
    assert kept["due_at"] == own["due_at"] == "2030-01-07T00:00:00Z"
