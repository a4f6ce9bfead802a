"""Reminders fired by the worker's real loop (``doable.worker``) while the clock is
moved with time-machine: at the local time through daylight-saving changes, exactly
once with two workers or a worker that dies mid-fire, missed ones told together, and
the daily digest at the user's local time. Emails reach a real SMTP server."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask

from doable.reminders import fire, mail
from doable.reminders.models import Digest
from doable.reminders.schedule import set_digest
from doable.unit_of_work import unit_of_work
from doable.worker import Worker, run_round
from tests.changes.feeds import new_task
from tests.support.factories import Account, ApiClient
from tests.support.reminders import fires, notifications, reminders, rows, schedule, set_user
from tests.support.servers import wait_for
from tests.support.smtp import SmtpServer

BERLIN = "Europe/Berlin"
#: A poll interval no test waits for: what a worker does sooner, it was woken for.
SLOW_POLL = {"WORKER_POLL_INTERVAL": 60}


@contextmanager
def running(*apps: Flask) -> Iterator[list[Worker]]:
    """A worker loop per app, each in its thread; stopped (and joined) after."""
    workers = [Worker(app) for app in apps]
    threads = [threading.Thread(target=worker.run, daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    try:
        yield workers
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), "a worker did not stop"


def one_line(text: str) -> str:
    return text.replace("\r\n", "\n")


def due_lines(smtp: SmtpServer) -> list[str]:
    return [re.findall(r"Due .*\)", one_line(mail.body))[0] for mail in smtp.mails]


def standup(api: ApiClient, owner: Account, first: date) -> None:
    """A task due daily at 09:30 Berlin time from ``first``, reminding 30 minutes before
    (at 09:00), created through the API."""
    body = {
        "title": "Standup",
        "due_date": first.isoformat(),
        "due_time": "09:30",
        "timezone": BERLIN,
        "recurrence": {"rule": "FREQ=DAILY", "mode": "schedule"},
        "reminders": [{"before_due": "PT30M"}],
    }
    response = api.post("/api/tasks", owner.token, json=body)
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    ("first", "instants"),
    [
        # Clocks spring forward on Sunday 29 March 2026: 09:00 is 08:00 UTC, then 07:00.
        (
            date(2026, 3, 28),
            [datetime(2026, 3, 28, 8), datetime(2026, 3, 29, 7), datetime(2026, 3, 30, 7)],
        ),
        # And fall back on Sunday 25 October 2026: 09:00 is 07:00 UTC, then 08:00.
        (
            date(2026, 10, 24),
            [datetime(2026, 10, 24, 7), datetime(2026, 10, 25, 8), datetime(2026, 10, 26, 8)],
        ),
    ],
    ids=["march", "october"],
)
def test_a_daily_reminder_fires_at_nine_local_across_a_dst_change(
    make_app: Any, smtp: SmtpServer, first: date, instants: list[datetime]
) -> None:
    app = make_app(**smtp.settings, **SLOW_POLL)
    api = ApiClient(app.test_client())
    start = instants[0].replace(tzinfo=UTC) - timedelta(hours=2)
    with time_machine.travel(start, tick=True) as clock:
        alice = api.account("alice")  # its token issued then: valid then
        standup(api, alice, first)
        with running(app) as [worker]:
            for count, moment in enumerate(instants, start=1):
                clock.move_to(moment.replace(tzinfo=UTC) - timedelta(minutes=1))
                worker.wake()
                clock.move_to(moment.replace(tzinfo=UTC) + timedelta(seconds=1))
                worker.wake()
                smtp.wait_for(count)
                wait_for(lambda n=count: len(notifications(app)) == n, f"{count} notices")
                # The email recorded sent before the clock moves on: moved mid-round, the
                # day's jump reads as a timeout to the database driver, the outcome goes
                # unrecorded, and the email is (rightly) sent again after its lease.
                wait_for(lambda: all_sent(app), "the emails recorded sent")

    days = [(first + timedelta(days=offset)) for offset in range(3)]
    expected = [f"Due {day:%a %d %b %Y} 09:30 (Europe/Berlin)" for day in days]
    assert due_lines(smtp) == expected
    assert [mail.recipients for mail in smtp.mails] == [[alice.email]] * 3
    assert {mail.subject for mail in smtp.mails} == {"Reminder: Standup"}
    sent = [f for f in fires(app) if f.channel == "in_app"]
    assert [f.scheduled_at for f in sent] == [m.replace(tzinfo=UTC) for m in instants]
    for record, moment in zip(sent, instants, strict=True):  # not before 09:00, nor long after
        assert timedelta(0) <= record.sent_at - moment.replace(tzinfo=UTC) < timedelta(minutes=1)
    assert [n.body.splitlines()[1] for n in notifications(app)] == expected
    [reminder] = reminders(app)
    assert reminder.occurrence == f"{first + timedelta(days=3)}T09:30"


def test_two_workers_send_one_email_and_one_notice_per_reminder(
    make_app: Any, smtp: SmtpServer
) -> None:
    apps = [make_app(**smtp.settings, **SLOW_POLL) for _ in range(2)]
    api = ApiClient(apps[0].test_client())
    alice = api.account("alice")
    due = datetime(2026, 6, 1, 7, tzinfo=UTC)
    tasks = [new_task(api, alice, title=f"Task {n}") for n in range(12)]
    with time_machine.travel(due - timedelta(hours=1), tick=True) as clock:
        due_at_nine(apps[0], tasks, "PT30M", "PT1H")
        with running(*apps) as workers:
            clock.move_to(due + timedelta(seconds=1))
            for worker in workers:
                worker.wake()
            wait_for(lambda: all_done(apps[0], 24), "every reminder fired and emailed")

    assert len(smtp.mails) == 24
    assert len(notifications(apps[0])) == 24
    keys = [n.data["key"] for n in notifications(apps[0])]
    assert len(set(keys)) == 24
    assert sorted(re.sub(r"\s+", " ", m.subject) for m in smtp.mails) == sorted(
        f"Reminder: Task {n}" for n in range(12) for _ in range(2)
    )


def due_at_nine(app: Flask, tasks: list[int], *reminders: str) -> None:
    """The tasks due on Monday 1 June 2026 at 09:30 Berlin time, each reminding
    ``reminders`` before (30 minutes when none is given: at 09:00, 07:00 UTC)."""
    for task_id in tasks:
        schedule(
            app,
            task_id,
            due_date=date(2026, 6, 1),
            due_time=time(9, 30),
            timezone=BERLIN,
            reminders=[{"before_due": lead} for lead in reminders or ("PT30M",)],
        )


def all_sent(app: Flask) -> bool:
    return all(f.status == "sent" for f in fires(app))


def all_done(app: Flask, count: int) -> bool:
    found = fires(app)
    return len(found) == 2 * count and all(f.status == "sent" for f in found)


def test_a_worker_killed_between_claim_and_send_loses_nothing_and_sends_once(
    make_app: Any, smtp: SmtpServer
) -> None:
    app = make_app(**smtp.settings)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    due = datetime(2026, 6, 1, 7, tzinfo=UTC)
    task_id = new_task(api, alice, title="Pay rent")
    with time_machine.travel(due - timedelta(hours=1), tick=True) as clock:
        due_at_nine(app, [task_id])
        clock.move_to(due + timedelta(seconds=1))
        with app.app_context():  # the dying worker: its claims commit, then it is gone
            assert fire.fire_due(limit=10) == 1
            [claimed] = mail.claim_emails(limit=10)
        with app.app_context():  # another worker, within the dead one's lease: waits
            run_round(app)
        assert smtp.mails == []
        assert [f.status for f in fires(app)] == ["sent", "pending"]
        clock.move_to(due + timedelta(seconds=mail.lease_seconds_for(app) + 2))
        with app.app_context():
            run_round(app)
            run_round(app)

    [email] = smtp.wait_for(1)
    assert email.message["Message-ID"] == f"<fire-{claimed.fire_id}@example.test>"
    assert "Due Mon 01 Jun 2026 09:30 (Europe/Berlin)" in email.body
    assert len(notifications(app)) == 1
    assert [(f.channel, f.status, f.attempts) for f in fires(app)] == [
        ("in_app", "sent", 0),
        ("email", "sent", 2),
    ]


def test_a_reminder_due_longer_ago_than_the_grace_is_told_as_missed(
    make_app: Any, smtp: SmtpServer
) -> None:
    app = make_app(**smtp.settings, REMINDER_GRACE=3600)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    due = datetime(2026, 6, 1, 7, tzinfo=UTC)
    titles = ["Water plants", "Call mum"]
    tasks = [new_task(api, alice, title=title) for title in titles]
    with time_machine.travel(due - timedelta(hours=1), tick=True) as clock:
        due_at_nine(app, tasks)
        clock.move_to(due + timedelta(hours=3))  # the service was down meanwhile
        with app.app_context():
            run_round(app)
            run_round(app)

    [email] = smtp.wait_for(1)
    assert email.subject == "You missed 2 reminders"
    for title in titles:
        assert f"- {title}: Due Mon 01 Jun 2026 09:30 (Europe/Berlin)" in one_line(email.body)
    [notice] = notifications(app)
    assert (notice.kind, notice.title) == ("missed", "You missed 2 reminders")
    assert [f.status for f in fires(app) if f.key.startswith("reminder:")] == ["missed"] * 4
    assert all(r.fire_at is None for r in reminders(app))  # not sent late either


def in_los_angeles(make_app: Any, smtp: SmtpServer) -> tuple[Flask, ApiClient, Account]:
    """An app sending to ``smtp``, its API, and alice living in Los Angeles."""
    app = make_app(**smtp.settings)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    set_user(app, alice.id, timezone="America/Los_Angeles")
    return app, api, alice


def test_the_digest_comes_at_the_users_local_time_with_overdue_and_today(
    make_app: Any, smtp: SmtpServer
) -> None:
    app, api, alice = in_los_angeles(make_app, smtp)
    today = date(2026, 6, 1)
    overdue = new_task(api, alice, title="File taxes")
    due_today = new_task(api, alice, title="Buy milk")
    new_task(api, alice, title="Later", due_date="2026-06-05")
    # 08:00 in Los Angeles (PDT, UTC-7) is 15:00 UTC.
    with time_machine.travel(datetime(2026, 6, 1, 14, tzinfo=UTC), tick=True) as clock:
        schedule(app, overdue, due_date=date(2026, 5, 30), reminders=[])
        schedule(app, due_today, due_date=today, due_time=time(17), reminders=[])
        with app.app_context(), unit_of_work():
            set_digest(alice.id, time(8))
        with app.app_context():
            run_round(app)
        assert smtp.mails == []
        clock.move_to(datetime(2026, 6, 1, 15, 0, 1, tzinfo=UTC))
        with app.app_context():
            run_round(app)

    [email] = smtp.wait_for(1)
    assert email.recipients == [alice.email]
    assert email.subject == "1 overdue, 1 due today"
    body = one_line(email.body)
    assert "Your tasks on Mon 01 Jun 2026 (America/Los_Angeles)" in body
    assert "Overdue (1):\n- File taxes: Due Sat 30 May 2026 (America/Los_Angeles)" in body
    assert "Due today (1):\n- Buy milk: Due Mon 01 Jun 2026 17:00 (America/Los_Angeles)" in body
    [notice] = notifications(app)
    assert (notice.kind, notice.data["date"]) == ("digest", "2026-06-01")
    [digest] = rows(app, Digest, Digest.user_id)
    assert digest.next_at == datetime(2026, 6, 2, 15, tzinfo=UTC)


def test_a_reminder_rescheduled_onto_an_occurrence_already_fired_is_not_sent_again(
    make_app: Any, smtp: SmtpServer
) -> None:
    app = make_app(**smtp.settings)
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    due = datetime(2026, 6, 1, 7, tzinfo=UTC)
    task_id = new_task(api, alice, title="Pay rent")
    with time_machine.travel(due - timedelta(hours=1), tick=True) as clock:
        due_at_nine(app, [task_id])
        clock.move_to(due + timedelta(minutes=5))
        with app.app_context():
            run_round(app)
        smtp.wait_for(1)
        due_at_nine(app, [task_id])  # an edit: the same occurrence, within the grace, again
        assert [r.fire_at for r in reminders(app)] == [due]
        with app.app_context():
            run_round(app)
            run_round(app)

    assert len(smtp.mails) == 1
    assert len(notifications(app)) == 1
    assert [r.fire_at for r in reminders(app)] == [None]  # claimed, found fired, moved on


def test_workers_claiming_one_reminder_at_a_time_each_send_different_ones(
    make_app: Any, smtp: SmtpServer
) -> None:
    apps = [make_app(**smtp.settings) for _ in range(3)]
    api = ApiClient(apps[0].test_client())
    alice = api.account("alice")
    due = datetime(2026, 6, 1, 7, tzinfo=UTC)
    tasks = [new_task(api, alice, title=f"Task {n}") for n in range(10)]
    start = threading.Barrier(len(apps))
    claimed: list[int] = []

    def work(app: Flask) -> None:
        start.wait(timeout=30)
        with app.app_context():
            while (count := fire.fire_due(limit=1)) or mail.send_emails(limit=1):
                claimed.append(count)

    with time_machine.travel(due - timedelta(hours=1), tick=True) as clock:
        due_at_nine(apps[0], tasks)
        clock.move_to(due + timedelta(seconds=1))
        threads = [threading.Thread(target=work, args=(app,)) for app in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert sum(claimed) == 10  # each claimed by one worker only
    assert sorted(m.subject for m in smtp.wait_for(10)) == sorted(
        f"Reminder: Task {n}" for n in range(10)
    )
    assert len(smtp.mails) == 10
    assert len(notifications(apps[0])) == 10
    assert all_done(apps[0], 10)


def test_an_idle_worker_wakes_when_the_next_reminder_falls_due(
    make_app: Any, smtp: SmtpServer
) -> None:
    app = make_app(**smtp.settings, **SLOW_POLL)  # no poll would come within the test
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    due = datetime(2026, 6, 1, 7, tzinfo=UTC)
    task_id = new_task(api, alice, title="Pay rent")
    with time_machine.travel(due - timedelta(seconds=2), tick=True):
        due_at_nine(app, [task_id])
        with running(app):  # nothing wakes it: it sleeps until the reminder is due
            [email] = smtp.wait_for(1, limit=10)

    assert email.subject == "Reminder: Pay rent"
    [record] = [f for f in fires(app) if f.channel == "in_app"]
    assert record.sent_at is not None
    assert timedelta(0) <= record.sent_at - due < timedelta(seconds=5)


def test_a_slow_server_outliving_the_first_lease_still_gets_each_email_once(
    make_app: Any,
) -> None:
    # Each message takes 0.7 s; a claim's lease is 3 timeouts and 5 s, 8 s: twelve
    # messages in one claim outlive it, and the other worker must not send them again.
    slow = SmtpServer(delay=0.7)
    config = {**slow.settings, "SMTP_TIMEOUT": 1, "WORKER_CONCURRENCY": 12}
    apps = [make_app(**config, **SLOW_POLL) for _ in range(2)]
    api = ApiClient(apps[0].test_client())
    alice = api.account("alice")
    due = datetime(2026, 6, 1, 7, tzinfo=UTC)
    tasks = [new_task(api, alice, title=f"Task {n}") for n in range(12)]
    try:
        with time_machine.travel(due - timedelta(hours=1), tick=True) as clock:
            due_at_nine(apps[0], tasks)
            with running(*apps) as workers:
                clock.move_to(due + timedelta(seconds=1))
                for worker in workers:
                    worker.wake()
                wait_for(lambda: all_done(apps[0], 12), "every email sent", limit=60)
        assert mail.lease_seconds_for(apps[0]) < 12 * 0.7
        assert sorted(m.subject for m in slow.mails) == sorted(
            f"Reminder: Task {n}" for n in range(12)
        )
    finally:
        slow.stop()


def test_a_digest_later_than_the_grace_is_recorded_missed_and_moves_to_the_next_day(
    make_app: Any, smtp: SmtpServer
) -> None:
    app, api, alice = in_los_angeles(make_app, smtp)
    new_task(api, alice, title="File taxes", due_date="2026-05-30")
    with time_machine.travel(datetime(2026, 6, 1, 14, tzinfo=UTC), tick=True) as clock:
        with app.app_context(), unit_of_work():
            set_digest(alice.id, time(8))  # 15:00 UTC
        # No worker ran from then until two hours later, past the grace of one.
        clock.move_to(datetime(2026, 6, 1, 17, tzinfo=UTC))
        with app.app_context():
            run_round(app)

    assert smtp.mails == []
    assert notifications(app) == []
    assert {(f.key, f.status) for f in fires(app)} == {("digest:2026-06-01", "missed")}
    [digest] = rows(app, Digest, Digest.user_id)
    assert digest.next_at == datetime(2026, 6, 2, 15, tzinfo=UTC)


def test_a_digest_with_many_overdue_still_shows_whats_due_today_and_true_counts(
    make_app: Any,
) -> None:
    app = make_app()
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    for n in range(201):  # more than a digest once read, due date first
        new_task(api, alice, title=f"Late {n}", due_date="2026-05-30")
    new_task(api, alice, title="Buy milk", due_date="2026-06-01")
    with time_machine.travel(datetime(2026, 6, 1, 7, tzinfo=UTC), tick=True) as clock:
        with app.app_context(), unit_of_work():
            set_digest(alice.id, time(8))  # UTC
        clock.move_to(datetime(2026, 6, 1, 8, 0, 1, tzinfo=UTC))
        with app.app_context():
            run_round(app)

    [notice] = notifications(app)
    assert notice.title == "201 overdue, 1 due today"
    assert "Due today (1):\n- Buy milk: Due Mon 01 Jun 2026 (UTC)" in notice.body
