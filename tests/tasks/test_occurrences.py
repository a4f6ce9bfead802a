"""Recurring tasks moved on (docs/api.md, Time zones and recurrence): completing or
skipping an occurrence keeps the task's identity, logs the occurrence, and is idempotent
per occurrence; ``GET /api/tasks/<id>/occurrences`` previews the series."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask

from tests.support.attachments import uploaded
from tests.support.factories import Account, ApiClient, assert_problem, share, stored_task
from tests.support.tasks import create, set_zone

WEEKDAYS = {"rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "mode": "schedule"}
#: "Now" in these tests, unless one moves it: the day before the first task is due.
NOW = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    """The clock set to ``NOW`` (and ticking) before the accounts log in."""
    with time_machine.travel(NOW, tick=True):
        yield


def recurring(api: ApiClient, account: Account, **fields: Any) -> dict[str, Any]:
    defaults = {
        "due_date": "2026-03-27",  # a Friday
        "due_time": "09:00",
        "timezone": "Europe/Berlin",
        "recurrence": WEEKDAYS,
    }
    return create(api, account, **{**defaults, **fields})


def history(api: ApiClient, account: Account, task_id: int) -> list[dict[str, Any]]:
    response = api.get(f"/api/tasks/{task_id}/history?per_page=100", account.token)
    assert response.status_code == 200
    return response.get_json()["changes"]  # type: ignore[no-any-return]


def test_complete_rolls_the_same_task_forward(api: ApiClient, alice: Account, bob: Account) -> None:
    task = recurring(api, alice)
    share(api, alice, task["id"], bob, "edit")
    attachment = uploaded(api, alice.token, task["id"])

    response = api.post(f"/api/tasks/{task['id']}/complete", bob.token)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["status"], body["due_date"], body["due_time"]) == (
        task["id"],
        "pending",
        "2026-03-30",  # the Monday after, across the March change
        "09:00",
    )
    assert body["due_at"] == "2026-03-30T07:00:00Z"  # 09:00 CEST
    shares = api.get(f"/api/tasks/{task['id']}/share", alice.token).get_json()
    assert [share["user"]["username"] for share in shares["shares"]] == ["bob"]
    files = api.get(f"/api/tasks/{task['id']}/attachments", alice.token).get_json()
    assert [found["id"] for found in files["attachments"]] == [attachment["id"]]
    entry = history(api, alice, task["id"])[0]
    assert entry["action"] == "occurrence_completed"
    assert entry["actor"]["username"] == "bob"
    assert entry["changes"] == {
        "occurrence": ["2026-03-27T09:00", "2026-03-30T09:00"],
        "due_date": ["2026-03-27", "2026-03-30"],
    }


def test_patch_status_completed_completes_the_current_occurrence(
    api: ApiClient, alice: Account
) -> None:
    task = recurring(api, alice)

    response = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"status": "completed"})

    body = response.get_json()
    assert (body["status"], body["due_date"]) == ("pending", "2026-03-30")
    assert history(api, alice, task["id"])[0]["action"] == "occurrence_completed"


def test_complete_with_the_same_occurrence_twice_moves_once(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = recurring(api, alice)
    done = {"occurrence": "2026-03-27T09:00"}

    first = api.post(f"/api/tasks/{task['id']}/complete", alice.token, json=done)
    stored = stored_task(app, task["id"])
    again = api.post(f"/api/tasks/{task['id']}/complete", alice.token, json=done)

    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert stored_task(app, task["id"]) == stored
    actions = [entry["action"] for entry in history(api, alice, task["id"])]
    assert actions == ["occurrence_completed", "created"]


def test_retrying_an_early_after_completion_completion_changes_nothing(
    api: ApiClient, app: Flask
) -> None:
    with time_machine.travel(datetime(2026, 3, 23, 12, 0, tzinfo=UTC), tick=True):  # Monday
        alice = api.account("alice")
        daily = {"rule": "FREQ=DAILY", "mode": "after_completion"}
        task = recurring(api, alice, recurrence=daily)  # due Friday 09:00
        done = {"occurrence": "2026-03-27T09:00"}

        first = api.post(f"/api/tasks/{task['id']}/complete", alice.token, json=done)
        stored = stored_task(app, task["id"])
        again = api.post(f"/api/tasks/{task['id']}/complete", alice.token, json=done)

    assert first.get_json()["due_date"] == "2026-03-24"  # the day after the completion
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()
    assert stored_task(app, task["id"]) == stored


def test_complete_a_future_occurrence_returns_409_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = recurring(api, alice)
    before = stored_task(app, task["id"])

    response = api.post(
        f"/api/tasks/{task['id']}/complete", alice.token, json={"occurrence": "2026-03-30T09:00"}
    )

    problem = assert_problem(response, 409)
    assert problem["type"].endswith("/occurrence-not-due")
    assert stored_task(app, task["id"]) == before


@pytest.mark.parametrize("occurrence", ["2026-3-27", "tomorrow", "2026-03-27T9:00", ""])
def test_complete_with_a_malformed_occurrence_returns_400(
    api: ApiClient, alice: Account, occurrence: str
) -> None:
    task = recurring(api, alice)

    response = api.post(
        f"/api/tasks/{task['id']}/complete", alice.token, json={"occurrence": occurrence}
    )

    assert set(assert_problem(response, 400)["errors"]) == {"occurrence"}


def test_skip_moves_on_and_logs_the_skip(api: ApiClient, alice: Account) -> None:
    task = recurring(api, alice)
    done = {"occurrence": "2026-03-27T09:00"}

    skipped = api.post(f"/api/tasks/{task['id']}/skip", alice.token, json=done)
    again = api.post(f"/api/tasks/{task['id']}/skip", alice.token, json=done)

    assert skipped.get_json()["due_date"] == again.get_json()["due_date"] == "2026-03-30"
    entries = history(api, alice, task["id"])
    assert [entry["action"] for entry in entries] == ["occurrence_skipped", "created"]
    assert entries[0]["changes"]["occurrence"] == ["2026-03-27T09:00", "2026-03-30T09:00"]


def test_skip_a_task_that_does_not_recur_returns_409(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, due_date="2026-03-27")

    response = api.post(f"/api/tasks/{task['id']}/skip", alice.token)

    assert assert_problem(response, 409)["type"].endswith("/not-recurring")


def test_complete_a_task_that_does_not_recur_completes_it(api: ApiClient, alice: Account) -> None:
    task = create(api, alice, due_date="2026-03-27")

    first = api.post(f"/api/tasks/{task['id']}/complete", alice.token)
    again = api.post(f"/api/tasks/{task['id']}/complete", alice.token)

    assert first.get_json()["status"] == again.get_json()["status"] == "completed"
    assert [entry["action"] for entry in history(api, alice, task["id"])] == [
        "updated",
        "created",
    ]


def test_completing_the_last_occurrence_completes_the_task(api: ApiClient, alice: Account) -> None:
    task = recurring(api, alice, recurrence={"rule": "FREQ=DAILY;COUNT=2"})

    api.post(f"/api/tasks/{task['id']}/complete", alice.token)
    last = api.post(f"/api/tasks/{task['id']}/complete", alice.token)

    assert (last.get_json()["status"], last.get_json()["due_date"]) == ("completed", "2026-03-28")
    entries = history(api, alice, task["id"])
    assert [entry["action"] for entry in entries] == ["updated", "occurrence_completed", "created"]
    assert entries[0]["changes"] == {"status": ["pending", "completed"]}
    occurrences = api.get(f"/api/tasks/{task['id']}/occurrences", alice.token).get_json()
    assert occurrences["occurrences"] == []


def test_complete_with_a_stale_if_match_returns_412(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task = recurring(api, alice)
    etag = api.get(f"/api/tasks/{task['id']}", alice.token).headers["ETag"]
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "Renamed"})
    before = stored_task(app, task["id"])

    response = api.post(
        f"/api/tasks/{task['id']}/complete", alice.token, headers={"If-Match": etag}
    )

    assert_problem(response, 412)
    assert stored_task(app, task["id"]) == before


def test_a_viewer_cannot_complete_a_shared_task(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task = recurring(api, alice)
    share(api, alice, task["id"], bob, "view")

    assert_problem(api.post(f"/api/tasks/{task['id']}/complete", bob.token), 403)
    assert_problem(api.post(f"/api/tasks/{task['id']}/skip", bob.token), 403)


def test_schedule_mode_skips_occurrences_missed_before_the_completion_day(
    api: ApiClient, app: Flask
) -> None:
    with time_machine.travel(datetime(2026, 4, 8, 12, 0, tzinfo=UTC), tick=False):
        alice = api.account("alice")
        task = recurring(api, alice, due_date="2026-04-01", recurrence={"rule": "FREQ=DAILY"})

        body = api.post(f"/api/tasks/{task['id']}/complete", alice.token).get_json()

    assert body["due_date"] == "2026-04-09"  # not the days missed while overdue


@pytest.mark.parametrize(
    ("completed_at", "zone_name", "next_due"),
    [
        # 23:30 UTC on the 3rd is already the 4th in Sydney: counted from the 4th
        (datetime(2026, 4, 3, 23, 30, tzinfo=UTC), "Australia/Sydney", "2026-04-07"),
        # the same instant in Los Angeles is still the 3rd
        (datetime(2026, 4, 3, 23, 30, tzinfo=UTC), "America/Los_Angeles", "2026-04-06"),
    ],
)
def test_after_completion_counts_from_the_local_completion_date(
    api: ApiClient, app: Flask, completed_at: datetime, zone_name: str, next_due: str
) -> None:
    with time_machine.travel(completed_at, tick=False):
        alice = api.account("alice")
        set_zone(app, alice, zone_name)
        task = create(
            api,
            alice,
            due_date="2026-04-01",
            recurrence={"rule": "FREQ=DAILY;INTERVAL=3", "mode": "after_completion"},
        )

        body = api.post(f"/api/tasks/{task['id']}/complete", alice.token).get_json()

    assert (body["due_date"], body["status"]) == (next_due, "pending")


def test_occurrences_lists_local_and_utc_times_across_a_transition(
    api: ApiClient, alice: Account
) -> None:
    task = recurring(api, alice, recurrence={"rule": "FREQ=DAILY"}, due_date="2026-03-28")

    response = api.get(f"/api/tasks/{task['id']}/occurrences?limit=3", alice.token)

    assert response.status_code == 200
    assert response.get_json() == {
        "timezone": "Europe/Berlin",
        "occurrences": [
            {
                "occurrence": "2026-03-28T09:00",
                "local": "2026-03-28T09:00:00",
                "utc": "2026-03-28T08:00:00Z",
            },
            {
                "occurrence": "2026-03-29T09:00",
                "local": "2026-03-29T09:00:00",
                "utc": "2026-03-29T07:00:00Z",
            },
            {
                "occurrence": "2026-03-30T09:00",
                "local": "2026-03-30T09:00:00",
                "utc": "2026-03-30T07:00:00Z",
            },
        ],
    }


def test_occurrences_of_a_date_only_task_follow_the_owners_zone(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    set_zone(app, alice, "Asia/Kolkata")
    task = create(api, alice, due_date="2026-03-02", recurrence={"rule": "FREQ=MONTHLY"})

    body = api.get(f"/api/tasks/{task['id']}/occurrences?limit=2", alice.token).get_json()

    assert body == {
        "timezone": "Asia/Kolkata",
        "occurrences": [
            {
                "occurrence": "2026-03-02",
                "local": "2026-03-02T00:00:00",
                "utc": "2026-03-01T18:30:00Z",
            },
            {
                "occurrence": "2026-04-02",
                "local": "2026-04-02T00:00:00",
                "utc": "2026-04-01T18:30:00Z",
            },
        ],
    }


def test_occurrences_start_with_the_due_date_even_off_the_rule(
    api: ApiClient, alice: Account
) -> None:
    task = recurring(api, alice, due_date="2026-03-25", recurrence={"rule": "FREQ=WEEKLY;BYDAY=MO"})

    body = api.get(f"/api/tasks/{task['id']}/occurrences?limit=2", alice.token).get_json()

    assert [found["occurrence"] for found in body["occurrences"]] == [
        "2026-03-25T09:00",
        "2026-03-30T09:00",
    ]


@pytest.mark.parametrize("limit", ["0", "51", "ten", "1&limit=2"])
def test_occurrences_with_a_bad_limit_returns_400(
    api: ApiClient, alice: Account, limit: str
) -> None:
    task = recurring(api, alice)

    response = api.get(f"/api/tasks/{task['id']}/occurrences?limit={limit}", alice.token)

    assert set(assert_problem(response, 400)["errors"]) == {"limit"}


def test_occurrences_of_a_task_that_does_not_recur_returns_409(
    api: ApiClient, alice: Account, bob: Account
) -> None:
    task = create(api, alice, due_date="2026-03-27")

    response = api.get(f"/api/tasks/{task['id']}/occurrences", alice.token)

    assert assert_problem(response, 409)["type"].endswith("/not-recurring")
    assert_problem(api.get(f"/api/tasks/{task['id']}/occurrences", bob.token), 404)
