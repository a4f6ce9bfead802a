"""A task's time fields (docs/api.md, Time zones and recurrence): due time, zone,
recurrence and reminders written and read, ``due_at`` kept in step, and every bad
combination refused with 400 naming the field, nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks import service
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem, share, stored_task
from tests.support.pages import Browser
from tests.support.tasks import create, set_zone, task_count


def test_create_with_time_fields_shows_them_and_due_at(api: ApiClient, alice: Account) -> None:
    body = create(
        api,
        alice,
        due_date="2026-03-30",
        due_time="09:00",
        timezone="Europe/Berlin",
        recurrence={"rule": "freq=weekly;byday=mo,we", "mode": "schedule"},
        reminders=[{"before_due": "PT1440M"}, {"at": "2026-03-30T08:00"}],
    )

    assert body["due_time"] == "09:00"
    assert body["timezone"] == "Europe/Berlin"
    assert body["due_at"] == "2026-03-30T07:00:00Z"  # CEST, UTC+2, since 29 March
    assert body["recurrence"] == {"rule": "FREQ=WEEKLY;BYDAY=MO,WE", "mode": "schedule"}
    assert body["reminders"] == [{"before_due": "P1D"}, {"at": "2026-03-30T08:00"}]
    again = api.get(f"/api/tasks/{body['id']}", alice.token)
    assert again.get_json() == body


def test_due_at_follows_the_owners_zone_when_the_task_names_none(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    set_zone(app, alice, "America/New_York")

    body = create(api, alice, due_date="2026-07-01", due_time="18:30")

    assert body["timezone"] is None
    assert body["due_at"] == "2026-07-01T22:30:00Z"  # EDT, UTC-4
    date_only = create(api, alice, due_date="2026-01-15")
    assert date_only["due_at"] == "2026-01-15T05:00:00Z"  # the day's start, EST


def test_owner_zone_changed_moves_due_at_of_tasks_without_their_own_zone(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    follows = create(api, alice, due_date="2026-07-01", due_time="09:00")
    own = create(api, alice, due_date="2026-07-01", due_time="09:00", timezone="Asia/Kolkata")
    set_zone(app, alice, "Australia/Sydney")

    with app.app_context():
        service.owner_zone_changed(alice.id)
        db.session.commit()

    assert api.get(f"/api/tasks/{follows['id']}", alice.token).get_json()["due_at"] == (
        "2026-06-30T23:00:00Z"  # 09:00 AEST, UTC+10
    )
    assert api.get(f"/api/tasks/{own['id']}", alice.token).get_json()["due_at"] == (
        "2026-07-01T03:30:00Z"
    )


def test_update_zone_or_time_keeps_due_at_in_step(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, due_date="2026-10-25", due_time="02:30", timezone="Europe/Berlin")
    assert task["due_at"] == "2026-10-25T00:30:00Z"  # the first 02:30 (CEST) of two

    moved = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"timezone": "Asia/Kolkata"})
    assert moved.get_json()["due_at"] == "2026-10-24T21:00:00Z"
    later = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"due_time": "23:59"})
    assert later.get_json()["due_at"] == "2026-10-25T18:29:00Z"


def test_a_nonexistent_local_time_is_due_the_gap_later(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, due_date="2026-03-29", due_time="02:30", timezone="Europe/Berlin")

    assert task["due_time"] == "02:30"
    assert task["due_at"] == "2026-03-29T01:30:00Z"  # 03:30 CEST: the hour was skipped


def test_clearing_the_due_date_clears_its_time_and_recurrence(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = create(
        api, alice, due_date="2026-03-30", due_time="09:00", recurrence={"rule": "FREQ=DAILY"}
    )

    body = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"due_date": None}).get_json()

    assert (body["due_date"], body["due_time"], body["due_at"], body["recurrence"]) == (
        None,
        None,
        None,
        None,
    )
    stored = stored_task(app, task["id"])
    assert stored is not None
    assert (stored["recurrence_anchor"], stored["recurrence_mode"]) == (None, None)


def test_changing_the_due_date_by_hand_moves_the_series_anchor(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = create(
        api, alice, due_date="2026-03-30", due_time="09:00", recurrence={"rule": "FREQ=DAILY"}
    )
    stored = stored_task(app, task["id"])
    assert stored is not None
    assert stored["recurrence_anchor"] == datetime(2026, 3, 30, 9, 0)

    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"due_date": "2026-04-02"})

    stored = stored_task(app, task["id"])
    assert stored is not None
    assert stored["recurrence_anchor"] == datetime(2026, 4, 2, 9, 0)


def test_resending_the_same_time_fields_changes_nothing(api: ApiClient, alice: Account) -> None:
    fields = {
        "due_date": "2026-03-30",
        "due_time": "09:00",
        "recurrence": {"rule": "FREQ=DAILY", "mode": "schedule"},
        "reminders": [{"before_due": "PT30M"}],
    }
    task = create(api, alice, **fields)

    again = api.patch(
        f"/api/tasks/{task['id']}",
        alice.token,
        json={
            **fields,
            "recurrence": {"rule": "rrule:freq=daily"},
            "reminders": [{"before_due": "PT30M"}],
        },
    )

    assert again.status_code == 200
    assert again.get_json() == task


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("finer than daily", {"recurrence": {"rule": "FREQ=HOURLY"}}, "recurrence"),
    ("by hour", {"recurrence": {"rule": "FREQ=DAILY;BYHOUR=9"}}, "recurrence"),
    (
        "DTSTART in the rule",
        {"recurrence": {"rule": "DTSTART:20260330T090000\nRRULE:FREQ=DAILY"}},
        "recurrence",
    ),
    ("floating UNTIL", {"recurrence": {"rule": "FREQ=DAILY;UNTIL=20260401T090000"}}, "recurrence"),
    (
        "UNTIL before the due date",
        {"recurrence": {"rule": "FREQ=DAILY;UNTIL=20260101"}},
        "recurrence",
    ),
    ("never occurs", {"recurrence": {"rule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}}, "recurrence"),
    (
        "COUNT after completion",
        {"recurrence": {"rule": "FREQ=DAILY;COUNT=3", "mode": "after_completion"}},
        "recurrence",
    ),
    ("unknown mode", {"recurrence": {"rule": "FREQ=DAILY", "mode": "sometimes"}}, "recurrence"),
    ("interval over 1000", {"recurrence": {"rule": "FREQ=DAILY;INTERVAL=1001"}}, "recurrence"),
    ("count over 1000", {"recurrence": {"rule": "FREQ=DAILY;COUNT=1001"}}, "recurrence"),
    # every 7 days from a Monday: never a Tuesday (dateutil searched to the year 9999)
    ("never in step", {"recurrence": {"rule": "FREQ=DAILY;INTERVAL=7;BYDAY=TU"}}, "recurrence"),
    ("extra member", {"recurrence": {"rule": "FREQ=DAILY", "rrule": "x"}}, "recurrence"),
    ("not an object", {"recurrence": "FREQ=DAILY"}, "recurrence"),
    ("unknown zone", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ("zone of the wrong case", {"timezone": "europe/berlin"}, "timezone"),
    ("time of 24:00", {"due_time": "24:00"}, "due_time"),
    ("time with seconds", {"due_time": "09:00:00"}, "due_time"),
    ("bad duration", {"reminders": [{"before_due": "30 minutes"}]}, "reminders"),
    ("duration too long", {"reminders": [{"before_due": "P29D"}]}, "reminders"),
    ("duration zero", {"reminders": [{"before_due": "PT0M"}]}, "reminders"),
    ("two keys", {"reminders": [{"before_due": "PT30M", "at": "2026-03-30T08:00"}]}, "reminders"),
    ("unknown key", {"reminders": [{"after_due": "PT30M"}]}, "reminders"),
    ("at with seconds", {"reminders": [{"at": "2026-03-30T08:00:00"}]}, "reminders"),
    ("at not a day", {"reminders": [{"at": "2026-02-30T08:00"}]}, "reminders"),
    ("duplicate", {"reminders": [{"before_due": "PT60M"}, {"before_due": "PT1H"}]}, "reminders"),
    ("too many", {"reminders": [{"before_due": f"PT{n}M"} for n in range(1, 7)]}, "reminders"),
    ("not a list", {"reminders": {"before_due": "PT30M"}}, "reminders"),
]


@pytest.mark.parametrize(
    ("fields", "named"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_create_with_bad_time_fields_returns_400_naming_the_field(
    api: ApiClient, app: Flask, alice: Account, fields: dict[str, Any], named: str
) -> None:
    body = {"title": "Timed", "due_date": "2026-03-30", "due_time": "09:00", **fields}

    response = api.post("/api/tasks", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert {key.split(".")[0] for key in problem["errors"]} == {named}
    assert task_count(app) == 0


@pytest.mark.parametrize(
    ("fields", "named"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_update_with_bad_time_fields_returns_400_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, fields: dict[str, Any], named: str
) -> None:
    task = create(api, alice, due_date="2026-03-30", due_time="09:00")
    before = stored_task(app, task["id"])

    response = api.patch(f"/api/tasks/{task['id']}", alice.token, json=fields)

    problem = assert_problem(response, 400)
    assert {key.split(".")[0] for key in problem["errors"]} == {named}
    assert stored_task(app, task["id"]) == before


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"due_time": "09:00"}, "due_time"),
        ({"recurrence": {"rule": "FREQ=DAILY"}}, "recurrence"),
        ({"due_time": "09:00", "recurrence": {"rule": "FREQ=DAILY"}}, "due_time"),
    ],
)
def test_time_without_a_due_date_returns_400_naming_what_needs_it(
    api: ApiClient, app: Flask, alice: Account, fields: dict[str, Any], named: str
) -> None:
    response = api.post("/api/tasks", alice.token, json={"title": "No date", **fields})

    problem = assert_problem(response, 400)
    assert named in problem["errors"]
    assert task_count(app) == 0


def test_update_sending_a_time_and_clearing_the_date_returns_400(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = create(api, alice, due_date="2026-03-30")
    before = stored_task(app, task["id"])

    response = api.patch(
        f"/api/tasks/{task['id']}", alice.token, json={"due_date": None, "due_time": "10:00"}
    )

    assert set(assert_problem(response, 400)["errors"]) == {"due_time"}
    assert stored_task(app, task["id"]) == before


def test_a_due_date_at_the_calendars_edge_in_its_zone_returns_400(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    response = api.post(
        "/api/tasks",
        alice.token,
        json={"title": "Early", "due_date": "0001-01-01", "timezone": "Pacific/Auckland"},
    )

    assert set(assert_problem(response, 400)["errors"]) == {"due_date"}
    assert task_count(app) == 0


def test_a_legacy_task_without_due_at_reads_as_date_only(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = create(api, alice, due_date="2020-01-01")
    with app.app_context():
        db.session.execute(sa.update(Task).where(Task.id == task["id"]).values(due_at=None))
        db.session.commit()

    overdue = api.get("/api/tasks?overdue=true", alice.token).get_json()["tasks"]

    assert [found["id"] for found in overdue] == [task["id"]]
    assert overdue[0]["due_at"] is None


def test_history_logs_changed_time_fields(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, due_date="2026-03-30")

    api.patch(
        f"/api/tasks/{task['id']}",
        alice.token,
        json={"due_time": "09:00", "reminders": [{"before_due": "PT30M"}]},
    )

    history = api.get(f"/api/tasks/{task['id']}/history", alice.token).get_json()
    changes = [entry["changes"] for entry in history["changes"] if entry["action"] == "updated"]
    assert changes == [{"due_time": [None, "09:00"], "reminders": [[], [{"before_due": "PT30M"}]]}]


def test_times_are_read_back_as_utc(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, due_date="2026-12-31", due_time="23:45", timezone="Pacific/Auckland")

    assert datetime.strptime(task["due_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) == (
        datetime(2026, 12, 31, 10, 45, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("day", "clock", "zone_name"),
    [
        ("9999-12-31", "23:59", "UTC"),  # Berlin reads it in the year 10000
        ("9999-12-30", "23:59", "Etc/GMT+12"),
        ("0001-01-01", "00:00", "UTC"),  # Los Angeles reads it in the year 0
        ("0001-01-02", "00:00", "Pacific/Kiritimati"),
    ],
)
def test_a_due_moment_some_zone_could_not_show_returns_400(
    api: ApiClient, app: Flask, alice: Account, day: str, clock: str, zone_name: str
) -> None:
    body = {"title": "Edge", "due_date": day, "due_time": clock, "timezone": zone_name}

    response = api.post("/api/tasks", alice.token, json=body)

    assert set(assert_problem(response, 400)["errors"]) == {"due_date"}
    assert task_count(app) == 0


@pytest.mark.parametrize(
    ("day", "zone_name"), [("9999-12-29", "Etc/GMT+12"), ("0001-01-03", "Pacific/Kiritimati")]
)
def test_a_due_moment_just_inside_the_calendar_shows_in_every_zone(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, day: str, zone_name: str
) -> None:
    body = {"title": "Edge", "due_date": day, "due_time": "23:59", "timezone": zone_name}
    task = api.post("/api/tasks", alice.token, json=body).get_json()
    for name, viewer_zone in (("kiribati", "Pacific/Kiritimati"), ("baker", "Etc/GMT+12")):
        viewer = api.account(name)
        assert api.patch("/api/me", viewer.token, json={"timezone": viewer_zone}).status_code == 200
        share(api, alice, task["id"], viewer, "view")
        pages = browse(viewer)

        assert pages.get("/tasks").status_code == 200
        assert pages.get(f"/tasks/{task['id']}").status_code == 200


def test_years_before_1000_are_written_with_four_digits(api: ApiClient, alice: Account) -> None:
    task = create(
        api,
        alice,
        due_date="0999-01-01",
        due_time="09:00",
        timezone="UTC",
        recurrence={"rule": "FREQ=YEARLY"},
        reminders=[{"at": "0998-12-31T08:00"}],
    )
    occurrences = api.get(f"/api/tasks/{task['id']}/occurrences?limit=1", alice.token)

    assert task["due_at"] == "0999-01-01T09:00:00Z"
    assert task["reminders"] == [{"at": "0998-12-31T08:00"}]
    assert occurrences.get_json()["occurrences"][0]["occurrence"] == "0999-01-01T09:00"
    assert occurrences.get_json()["occurrences"][0]["utc"] == "0999-01-01T09:00:00Z"
