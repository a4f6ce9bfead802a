"""When each reminder is next due (``reminders.schedule``), and which channels a fire
takes: local wall time in the task's zone, DST gaps, completed tasks, passed times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import time_machine
from flask import Flask

from doable.db import utcnow
from doable.extensions import db
from doable.reminders import fire, mail
from doable.reminders.models import Digest, Fire
from doable.reminders.schedule import reschedule_owner, reschedule_task, set_digest
from doable.settings import settings
from doable.tasks.models import Task
from doable.unit_of_work import unit_of_work
from doable.worker import run_round
from tests.changes.feeds import new_task
from tests.support.factories import Account, ApiClient
from tests.support.reminders import fires, notifications, reminders, rows, schedule, set_user
from tests.support.servers import free_port
from tests.support.smtp import SmtpServer

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


def scheduled(app: Flask) -> list[tuple[str, str | None, datetime | None]]:
    return [(r.spec, r.occurrence, r.fire_at) for r in reminders(app)]


def test_each_reminder_fires_at_its_local_time_in_the_tasks_zone(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task_id = new_task(api, alice)
    with time_machine.travel(NOW):
        schedule(
            app,
            task_id,
            due_date=date(2026, 3, 30),
            due_time=time(9),
            timezone="Europe/Berlin",
            reminders=[{"before_due": "PT30M"}, {"at": "2026-03-29T02:30"}, {"before_due": "P1D"}],
        )

    assert scheduled(app) == [
        ("P1D", "2026-03-30T09:00", datetime(2026, 3, 29, 7, tzinfo=UTC)),  # 09:00 CEST, a day back
        ("PT30M", "2026-03-30T09:00", datetime(2026, 3, 30, 6, 30, tzinfo=UTC)),
        # 02:30 does not exist that night: it moves forward by the gap, to 03:30 CEST.
        ("at:2026-03-29T02:30", "at", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
    ]


def test_a_date_alone_counts_back_from_its_start_in_the_owners_zone(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    set_user(app, alice.id, timezone="America/New_York")
    task_id = new_task(api, alice)
    with time_machine.travel(NOW):
        schedule(app, task_id, due_date=date(2026, 3, 30), reminders=[{"before_due": "PT1H"}])

    assert scheduled(app) == [("PT1H", "2026-03-30", datetime(2026, 3, 30, 3, tzinfo=UTC))]


def test_nothing_fires_for_a_completed_task_a_passed_time_or_no_due_date(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task_id = new_task(api, alice)
    with time_machine.travel(NOW):
        schedule(
            app,
            task_id,
            due_date=date(2026, 3, 1),
            reminders=[{"before_due": "PT1M"}, {"at": "2026-03-01T08:00"}],
        )
        assert [fire_at for _, _, fire_at in scheduled(app)] == [None, None]
        schedule(app, task_id, due_date=date(2026, 4, 1), reminders=[{"before_due": "PT1M"}])
        assert scheduled(app)[0][2] is not None
        with app.app_context(), unit_of_work():
            task = db.session.get(Task, task_id)
            assert task is not None
            task.status = "completed"
            reschedule_task(task_id)

    assert scheduled(app) == [("PT1M", None, None)]


def test_reminders_taken_off_the_task_lose_their_schedule(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task_id = new_task(api, alice)
    with time_machine.travel(NOW):
        schedule(app, task_id, due_date=date(2026, 4, 1), reminders=[{"before_due": "PT5M"}])
        schedule(app, task_id, due_date=date(2026, 4, 1), reminders=[])

    assert scheduled(app) == []


def test_a_digest_at_a_time_the_night_skips_moves_forward_and_none_turns_it_off(
    app: Flask, alice: Account
) -> None:
    set_user(app, alice.id, timezone="Europe/Berlin")
    with time_machine.travel(datetime(2026, 3, 28, 12, tzinfo=UTC)), app.app_context():
        with unit_of_work():
            set_digest(alice.id, time(2, 30))
        [digest] = rows(app, Digest, Digest.user_id)
        assert digest.next_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
        with unit_of_work():
            set_digest(alice.id, None)

    assert rows(app, Digest, Digest.user_id) == []


def test_email_is_off_without_smtp_or_when_the_user_turned_it_off(
    make_app: Any, smtp: SmtpServer
) -> None:
    for config, by_email in (({}, True), (smtp.settings, False)):
        app = make_app(**config)
        api = ApiClient(app.test_client())
        alice = api.account(f"alice{int(by_email)}")
        set_user(app, alice.id, remind_by_email=by_email)
        task_id = new_task(api, alice)
        with time_machine.travel(NOW, tick=True):
            schedule(
                app,
                task_id,
                due_date=date(2026, 3, 20),
                due_time=time(12),
                reminders=[{"before_due": "PT1M"}],
            )
            with app.app_context():
                run_round(app)
        assert [(f.channel, f.status) for f in fires(app) if f.user_id == alice.id] == [
            ("in_app", "sent")
        ]
    assert smtp.mails == []


def test_an_email_the_server_refuses_is_retried_then_given_up(make_app: Any) -> None:
    closed = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": free_port(), "SMTP_SECURITY": "none"}
    app = make_app(**closed)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    task_id = new_task(api, alice)
    with time_machine.travel(NOW, tick=True) as clock:
        schedule(
            app, task_id, due_date=NOW.date(), due_time=time(12), reminders=[{"before_due": "PT1M"}]
        )
        pauses = []
        for _ in range(mail.MAX_ATTEMPTS):
            with app.app_context():
                run_round(app)
            email = next(f for f in fires(app) if f.channel == "email")
            if email.lease_until is not None:
                pauses.append(round((email.lease_until - utcnow()).total_seconds() / 30))
                clock.move_to(email.lease_until + timedelta(seconds=1))

    assert (email.status, email.attempts) == ("failed", mail.MAX_ATTEMPTS)
    assert "SMTP server unavailable" in (email.error or "")
    assert pauses == [1, 2, 4, 8]  # 30 s, doubling


def test_a_new_zone_moves_the_users_reminders_and_digest(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task_id = new_task(api, alice)
    with time_machine.travel(NOW):
        schedule(
            app,
            task_id,
            due_date=date(2026, 3, 30),
            due_time=time(9),
            reminders=[{"before_due": "PT1M"}],
        )
        with app.app_context(), unit_of_work():
            set_digest(alice.id, time(8))
        set_user(app, alice.id, timezone="Asia/Kolkata")
        with app.app_context(), unit_of_work():
            reschedule_owner(alice.id)

    assert scheduled(app) == [
        ("PT1M", "2026-03-30T09:00", datetime(2026, 3, 30, 3, 29, tzinfo=UTC))
    ]
    [digest] = rows(app, Digest, Digest.user_id)
    assert digest.next_at == datetime(2026, 3, 21, 2, 30, tzinfo=UTC)  # 08:00 IST


def test_a_reminder_beyond_the_calendar_never_fires_and_breaks_nothing(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task_id = new_task(api, alice)
    with time_machine.travel(NOW):
        schedule(
            app,
            task_id,
            due_date=date(1, 1, 8),
            timezone="Europe/Berlin",
            # Before the year 1, in UTC; not a time at all.
            reminders=[{"before_due": "P2W"}, {"at": "0001-01-01T00:00"}, {"at": "not a time"}],
        )

    assert [fire_at for _, _, fire_at in scheduled(app)] == [None, None, None]


def test_a_title_with_line_breaks_makes_a_one_line_subject(make_app: Any, smtp: SmtpServer) -> None:
    app = make_app(**smtp.settings)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    task_id = new_task(api, alice)
    with app.app_context(), unit_of_work():
        task = db.session.get(Task, task_id)
        assert task is not None
        task.title = "Pay\r\nrent\u2028now\x0b\x1c\x85ok"  # each accepted by the API
    with time_machine.travel(NOW, tick=True):
        schedule(
            app, task_id, due_date=NOW.date(), due_time=time(12), reminders=[{"before_due": "PT1M"}]
        )
        with app.app_context():
            run_round(app)
        [email] = smtp.wait_for(1)

    assert email.subject == "Reminder: Pay rent now ok"
    assert [(f.channel, f.status) for f in fires(app)] == [("in_app", "sent"), ("email", "sent")]


def test_a_message_that_cannot_be_written_fails_alone_and_the_rest_are_recorded(
    make_app: Any, smtp: SmtpServer
) -> None:
    app = make_app(**smtp.settings)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    tasks = [new_task(api, alice) for _ in range(3)]
    with time_machine.travel(NOW, tick=True):
        for task_id in tasks:
            schedule(
                app,
                task_id,
                due_date=NOW.date(),
                due_time=time(12),
                reminders=[{"before_due": "PT1M"}],
            )
        with app.app_context():
            run_round(app)
        sent = len(smtp.wait_for(3))
        with app.app_context(), unit_of_work():
            # Pending again, the middle one with a subject no header may hold (as written
            # before subjects were made one line).
            emails = db.session.scalars(sa.select(Fire).where(Fire.channel == "email"))
            for fire in emails:
                fire.status, fire.sent_at, fire.lease_until, fire.attempts = (
                    "pending",
                    None,
                    None,
                    0,
                )
                if fire.task_id == tasks[1]:
                    fire.subject = "Bad\nsubject"
        with app.app_context():
            run_round(app)
        emails = sorted((f for f in fires(app) if f.channel == "email"), key=lambda f: f.id)

    assert len(smtp.wait_for(sent + 2)) == sent + 2  # the good ones: the round went on
    assert [(f.status, f.attempts) for f in emails] == [("sent", 1), ("pending", 1), ("sent", 1)]
    assert "ValueError" in (emails[1].error or "")


def test_a_reminder_that_cannot_be_told_is_set_aside_and_the_rest_fire(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    broken, fine = new_task(api, alice), new_task(api, alice)
    with time_machine.travel(NOW, tick=True):
        for task_id in (broken, fine):
            schedule(
                app,
                task_id,
                due_date=NOW.date(),
                due_time=time(12),
                timezone="UTC",
                reminders=[{"before_due": "PT1M"}],
            )
        with app.app_context(), unit_of_work():
            # A zone this worker's tzdata lacks, as an older or newer one may.
            db.session.execute(
                sa.update(Task).where(Task.id == broken).values(timezone="Mars/Olympus")
            )
        with app.app_context():
            run_round(app)

    assert [(n.task_id, n.kind) for n in notifications(app)] == [(fine, "reminder")]
    assert {r.task_id: r.fire_at for r in reminders(app)}[broken] is None  # not every round


def test_a_task_moved_to_another_zone_reminds_again_at_the_new_instant(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task_id = new_task(api, alice)
    due = {"due_date": NOW.date(), "due_time": time(12), "reminders": [{"before_due": "PT1M"}]}
    with time_machine.travel(NOW, tick=True) as clock:
        schedule(app, task_id, timezone="UTC", **due)
        with app.app_context():
            run_round(app)
        # The same wall time, 12:00, in New York: another instant, four hours on.
        schedule(app, task_id, timezone="America/New_York", **due)
        clock.move_to(NOW + timedelta(hours=4))
        with app.app_context():
            run_round(app)

    assert [n.data["due_at"] for n in notifications(app)] == [
        "2026-03-20T12:00:00Z",
        "2026-03-20T16:00:00Z",
    ]


def test_fire_records_done_with_are_pruned_a_few_at_a_time_after_their_retention(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    old, recent = new_task(api, alice), new_task(api, alice)
    later = NOW + fire.FIRE_RETENTION
    with time_machine.travel(NOW, tick=True) as clock:
        reminded = [{"before_due": "PT1M"}, {"before_due": "PT2M"}]
        schedule(app, old, due_date=NOW.date(), due_time=time(12), reminders=reminded)
        with app.app_context():
            run_round(app)
        with app.app_context(), unit_of_work():  # an email still to send is never pruned
            db.session.add(
                Fire(
                    user_id=alice.id,
                    key="waiting",
                    channel="email",
                    kind="reminder",
                    scheduled_at=NOW,
                    status="pending",
                    subject="s",
                    body="b",
                    attempts=0,
                    created_at=NOW,
                )
            )
        clock.move_to(later)
        schedule(app, recent, due_date=later.date(), due_time=time(12), reminders=reminded)
        with app.app_context():
            run_round(app)  # the old ones are within the grace still
        assert len(fires(app)) == 5
        clock.move_to(later + timedelta(seconds=settings(app).reminder_grace + 1))
        with app.app_context():
            assert fire.prune_fires(limit=1) == 1
            run_round(app)

    assert sorted((f.status, f.task_id or 0) for f in fires(app)) == [
        ("pending", 0),
        ("sent", recent),
        ("sent", recent),
    ]
