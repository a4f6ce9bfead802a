"""Reminders set through the task API (``reminders``, ``recurrence``, ``due_time``,
``timezone``) are scheduled by the tasks service's writes, fired by the worker, and
follow the task when an occurrence is completed or the task is done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from doable.worker import run_round
from tests.support.factories import ApiClient
from tests.support.reminders import notifications, reminders
from tests.support.smtp import SmtpServer

#: Monday 30 March 2026, 06:00 UTC: 08:00 in Berlin, the day after clocks sprang forward.
MONDAY = datetime(2026, 3, 30, 6, tzinfo=UTC)


def test_every_weekday_at_nine_reminding_thirty_minutes_before(
    make_app: Any, smtp: SmtpServer
) -> None:
    app = make_app(**smtp.settings)
    api = ApiClient(app.test_client())
    with time_machine.travel(MONDAY, tick=True) as clock:  # tokens issued then, too
        alice = api.account("alice")
        body = {
            "title": "Standup",
            "due_date": "2026-03-30",
            "due_time": "09:00",
            "timezone": "Europe/Berlin",
            "recurrence": {"rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "mode": "schedule"},
            "reminders": [{"before_due": "PT30M"}],
        }
        created = api.post("/api/tasks", alice.token, json=body)
        assert created.status_code == 201, created.get_json()
        task_id = created.get_json()["id"]
        [reminder] = reminders(app)
        assert (reminder.occurrence, reminder.fire_at) == (
            "2026-03-30T09:00",
            datetime(2026, 3, 30, 6, 30, tzinfo=UTC),  # 08:30 CEST
        )

        clock.move_to(MONDAY + timedelta(minutes=30, seconds=1))
        with app.app_context():
            run_round(app)
        [email] = smtp.wait_for(1)
        assert "Due Mon 30 Mar 2026 09:00 (Europe/Berlin)" in email.body
        [reminder] = reminders(app)
        assert reminder.occurrence == "2026-03-31T09:00"  # the next one, not yet completed

        token = api.login(username="alice", password=alice.password).get_json()["token"]
        completed = api.post(f"/api/tasks/{task_id}/complete", token)
        assert completed.status_code == 200, completed.get_json()
        assert completed.get_json()["due_date"] == "2026-03-31"
        [reminder] = reminders(app)
        assert (reminder.occurrence, reminder.fire_at) == (
            "2026-03-31T09:00",
            datetime(2026, 3, 31, 6, 30, tzinfo=UTC),
        )
        with app.app_context():
            run_round(app)  # nothing due: the Monday reminder is not sent again
    assert len(smtp.mails) == 1
    assert len(notifications(app)) == 1


def test_a_completed_task_reminds_no_more(make_app: Any) -> None:
    app = make_app()
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    body = {"title": "Once", "due_date": "2099-01-01", "reminders": [{"before_due": "P1D"}]}
    task_id = api.post("/api/tasks", alice.token, json=body).get_json()["id"]
    assert reminders(app)[0].fire_at == datetime(2098, 12, 31, tzinfo=UTC)

    api.patch(f"/api/tasks/{task_id}", alice.token, json={"status": "completed"})

    assert reminders(app)[0].fire_at is None
    api.patch(f"/api/tasks/{task_id}", alice.token, json={"reminders": []})
    assert reminders(app) == []


def test_the_first_reminder_is_for_a_due_date_the_rule_does_not_give(
    make_app: Any,
) -> None:
    app = make_app()
    api = ApiClient(app.test_client())
    with time_machine.travel(datetime(2026, 11, 30, 12, tzinfo=UTC)):
        alice = api.account("alice")
        body = {
            "title": "Review",
            "due_date": "2026-12-01",  # a Tuesday: not one of the rule's days
            "due_time": "09:00",
            "timezone": "Europe/Berlin",
            "recurrence": {"rule": "FREQ=WEEKLY;BYDAY=MO,WE,FR", "mode": "schedule"},
            "reminders": [{"before_due": "PT30M"}],
        }
        created = api.post("/api/tasks", alice.token, json=body)
        assert created.status_code == 201, created.get_json()
        listed = api.get(f"/api/tasks/{created.get_json()['id']}/occurrences", alice.token)
        first = listed.get_json()["occurrences"][0]
        [reminder] = reminders(app)

    # The occurrence the API lists first (as RFC 5545 counts DTSTART) is reminded first.
    assert first["occurrence"] == "2026-12-01T09:00"
    assert (reminder.occurrence, reminder.fire_at) == (
        "2026-12-01T09:00",
        datetime(2026, 12, 1, 7, 30, tzinfo=UTC),  # 08:30 CET
    )
