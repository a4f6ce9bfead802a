"""What the feed holds (docs/api.md, Calendar feed), parsed with ``icalendar`` as a
calendar app would: an event per task the user can see that has a due date and is not
completed; all-day or timed in the task's zone; the rule in RFC 5545's form; alarms."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from doable.calendar_feed.service import MAX_EVENTS
from doable.extensions import db
from doable.tasks.models import Task
from tests.support.calendar_feed import events_by_summary, new_feed, path_of, read_feed, set_task
from tests.support.factories import Account, ApiClient, share, stored_task
from tests.support.reminders import reminders
from tests.support.tasks import create, set_zone

BERLIN = ZoneInfo("Europe/Berlin")


def _task(api: ApiClient, account: Account, title: str, **fields: Any) -> dict[str, Any]:
    return create(api, account, title=title, **fields)


def _feed(api: ApiClient, account: Account) -> icalendar.Calendar:
    return read_feed(api, new_feed(api, account)["url"])


def test_a_date_only_task_is_an_all_day_event_linking_to_its_page(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task = _task(
        api,
        alice,
        "Pay rent",
        description="Transfer to the landlord",
        due_date="2026-12-01",
        categories=["Home", "Money"],
    )
    stored = stored_task(app, task["id"])
    assert stored is not None

    calendar = _feed(api, alice)

    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["X-WR-CALNAME"]) == f"Doable: {alice.username}"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"task-{task['id']}@localhost"
    assert str(event["SUMMARY"]) == "Pay rent"
    assert str(event["DESCRIPTION"]) == "Transfer to the landlord"
    assert str(event["URL"]) == f"http://localhost/tasks/{task['id']}"
    assert event.decoded("DTSTART") == date(2026, 12, 1)
    assert event.decoded("DTEND") == date(2026, 12, 2)
    assert event["DTSTART"].params["VALUE"] == "DATE"
    assert event.decoded("DTSTAMP") == stored["updated_at"].replace(microsecond=0)
    assert event.decoded("LAST-MODIFIED") == stored["updated_at"].replace(microsecond=0)
    assert int(event["SEQUENCE"]) == 1
    assert str(event["TRANSP"]) == "TRANSPARENT"
    assert event["CATEGORIES"].cats == ["Home", "Money"]
    assert "RRULE" not in event
    assert calendar.walk("VTIMEZONE") == []


def test_a_change_raises_the_sequence(api: ApiClient, alice: Account) -> None:
    task = _task(api, alice, "Rent", due_date="2026-12-01")
    url = new_feed(api, alice)["url"]
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"due_date": "2026-12-02"})

    (event,) = read_feed(api, url).walk("VEVENT")

    assert int(event["SEQUENCE"]) == 2
    assert event.decoded("DTSTART") == date(2026, 12, 2)


def test_a_timed_task_starts_at_its_time_in_its_zone_with_the_zone_s_definition(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    _task(api, alice, "Call", due_date="2026-03-29", due_time="09:00", timezone="Europe/Berlin")

    response = api.client.get(path_of(new_feed(api, alice)["url"]))
    calendar = icalendar.Calendar.from_ical(response.get_data())

    (event,) = calendar.walk("VEVENT")
    assert b"DTSTART;TZID=Europe/Berlin:20260329T090000" in response.get_data()
    assert event.decoded("DTSTART") == datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=30)
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Berlin"
    assert zone.to_tz().utcoffset(datetime(2026, 7, 1)) == timedelta(hours=2)


def test_a_time_skipped_by_the_clocks_moves_forward_by_the_gap(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    _task(api, alice, "At 02:30", due_date="2026-03-29", due_time="02:30", timezone="Europe/Berlin")

    (event,) = _feed(api, alice).walk("VEVENT")

    start = event.decoded("DTSTART").astimezone(UTC)
    assert start == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert event.decoded("DTEND").astimezone(UTC) == start + timedelta(minutes=30)


def test_a_task_without_a_zone_is_in_its_owner_s(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    set_zone(app, alice, "America/Santiago")
    _task(api, alice, "Lunch", due_date="2026-12-01", due_time="13:00")

    (event,) = _feed(api, alice).walk("VEVENT")

    assert event["DTSTART"].params["TZID"] == "America/Santiago"
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


def test_a_utc_task_is_written_in_utc(app: Flask, api: ApiClient, alice: Account) -> None:
    _task(api, alice, "Deploy", due_date="2026-12-01", due_time="07:15", timezone="UTC")

    response = api.client.get(path_of(new_feed(api, alice)["url"]))

    assert b"DTSTART:20261201T071500Z" in response.get_data()
    assert b"VTIMEZONE" not in response.get_data()


def test_a_shared_task_appears_for_the_sharee_in_the_owner_s_zone_until_unshared(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    set_zone(app, alice, "Australia/Sydney")
    task = _task(api, alice, "Team review", due_date="2026-12-01", due_time="10:00")
    _task(api, alice, "Alice's own", due_date="2026-12-02")
    _task(api, bob, "Bob's own", due_date="2026-12-03")
    share(api, alice, task["id"], bob, "view")
    url = new_feed(api, bob)["url"]

    events = events_by_summary(read_feed(api, url))
    unshared = api.delete(f"/api/tasks/{task['id']}/share/{bob.id}", alice.token)
    after = events_by_summary(read_feed(api, url))

    assert set(events) == {"Team review", "Bob's own"}
    shared = events["Team review"]
    assert str(shared["UID"]) == f"task-{task['id']}@localhost"
    assert shared["DTSTART"].params["TZID"] == "Australia/Sydney"
    assert unshared.status_code == 204
    assert set(after) == {"Bob's own"}


def test_completed_tasks_and_tasks_without_a_due_date_are_left_out(
    api: ApiClient, alice: Account
) -> None:
    _task(api, alice, "Open", due_date="2026-12-01")
    _task(api, alice, "Started", due_date="2026-12-01", status="in_progress")
    _task(api, alice, "Done", due_date="2026-12-01", status="completed")
    _task(api, alice, "Someday")

    events = events_by_summary(_feed(api, alice))

    assert set(events) == {"Open", "Started"}


def test_text_is_escaped_and_reads_back_as_written(api: ApiClient, alice: Account) -> None:
    title = 'Ünïcødé; commas, "quotes" \\ and 🎉'
    description = "Line one\nLine two; with, punctuation\\\nBEGIN:VEVENT"
    _task(api, alice, title, description=description, due_date="2026-12-01")

    (event,) = _feed(api, alice).walk("VEVENT")

    assert str(event["SUMMARY"]) == title
    assert str(event["DESCRIPTION"]) == description


def test_before_due_reminders_are_alarms_and_an_at_one_is_absolute(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task = _task(api, alice, "Dentist", due_date="2026-12-01")
    reminders = [{"before_due": "PT30M"}, {"before_due": "P1D"}, {"at": "2026-11-30T20:00"}]
    set_task(app, task["id"], due_time=time(9, 0), timezone="Europe/Berlin", reminders=reminders)

    (event,) = _feed(api, alice).walk("VEVENT")

    alarms = event.walk("VALARM")
    assert [str(alarm["ACTION"]) for alarm in alarms] == ["DISPLAY"] * 3
    assert [str(alarm["DESCRIPTION"]) for alarm in alarms] == ["Dentist"] * 3
    triggers = [alarm.decoded("TRIGGER") for alarm in alarms]
    assert triggers == [
        timedelta(minutes=-30),
        timedelta(days=-1),
        datetime(2026, 11, 30, 19, 0, tzinfo=UTC),
    ]


_TRIGGER = re.compile(
    r"(-?)P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def _alarm_instants(ics: str, tz: ZoneInfo) -> list[datetime]:
    """When a calendar app rings each alarm of the feed's one event, by RFC 5545 3.3.6
    from the text as written (``icalendar`` decodes ``-P1D`` and ``-PT24H`` to the same
    ``timedelta``): weeks and days are nominal, a step of the wall clock in DTSTART's
    zone; hours, minutes and seconds are exact, a step of the instant."""
    (event,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    start = event.decoded("DTSTART")
    if not isinstance(start, datetime):  # an all-day event: its day's start
        start = datetime.combine(start, time(0), tzinfo=tz)
    instants = []
    for line in ics.splitlines():
        if not line.startswith("TRIGGER:"):
            continue
        found = _TRIGGER.fullmatch(line.removeprefix("TRIGGER:"))
        assert found is not None, line
        amounts = {name: int(value or 0) for name, value in found.groupdict().items()}
        sign = -1 if found.group(1) else 1
        nominal = timedelta(weeks=amounts["weeks"], days=amounts["days"])
        exact = timedelta(
            hours=amounts["hours"], minutes=amounts["minutes"], seconds=amounts["seconds"]
        )
        wall = start.replace(tzinfo=None) + sign * nominal  # an existing time: fold 0
        instants.append(wall.replace(tzinfo=tz).astimezone(UTC) + sign * exact)
    return instants


@pytest.mark.parametrize(
    ("due_date", "due_time"),
    [
        ("2026-03-29", "09:00"),  # CET to CEST that night: the day before has 23 hours
        ("2026-10-25", "09:00"),  # CEST to CET: 25 hours
        ("2026-03-30", None),  # an all-day task, the day after the change
        ("2026-10-26", None),
    ],
)
def test_each_alarm_rings_when_the_servers_reminder_fires_across_a_dst_change(
    app: Flask, api: ApiClient, due_date: str, due_time: str | None
) -> None:
    before_due = ["P1D", "PT30M", "P1DT2H", "P7D"]
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=True):  # before both
        carol = api.account("carol")
        set_zone(app, carol, "Europe/Berlin")
        create(
            api,
            carol,
            title="Over the change",
            due_date=due_date,
            due_time=due_time,
            reminders=[{"before_due": text} for text in before_due],
        )
        url = new_feed(api, carol)["url"]
    fire_at = {row.spec: row.fire_at for row in reminders(app)}

    ics = api.client.get(path_of(url)).get_data(as_text=True)

    assert _alarm_instants(ics, BERLIN) == [fire_at[text] for text in before_due]


def test_an_at_reminder_on_a_recurring_task_is_left_out(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    _task(
        api,
        alice,
        "Standup",
        due_date="2026-12-01",
        due_time="09:00",
        recurrence={"rule": "FREQ=DAILY", "mode": "schedule"},
        reminders=[{"at": "2026-11-30T20:00"}, {"before_due": "PT10M"}],
    )

    (event,) = _feed(api, alice).walk("VEVENT")

    assert [alarm.decoded("TRIGGER") for alarm in event.walk("VALARM")] == [timedelta(minutes=-10)]


#: (due local, timed, zone, rule, occurrences skipped, the RRULE written). UNTIL takes
#: DTSTART's form: a UTC time for a timed start, a local date for an all-day one. COUNT
#: would count from DTSTART: the series ends instead at its last occurrence.
RULES_WRITTEN = {
    "a timed start has its until date as a utc time": (
        datetime(2026, 3, 2, 9, 0),
        True,
        "Europe/Berlin",
        "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260330",
        0,
        b"FREQ=WEEKLY;UNTIL=20260330T215959Z;BYDAY=MO",
    ),
    # 12:00 UTC on 30 May is 00:00 on 31 May in Auckland (NZST, +12): 31 May is in.
    "an all-day start has its utc until as a local date": (
        datetime(2026, 1, 31),
        False,
        "Pacific/Auckland",
        "FREQ=MONTHLY;UNTIL=20260530T120000Z",
        0,
        b"FREQ=MONTHLY;UNTIL=20260531",
    ),
    # the fifth: 13 April, 08:00 CEST
    "a count ends at the series' last occurrence": (
        datetime(2026, 3, 16, 8, 0),
        True,
        "Europe/Berlin",
        "FREQ=WEEKLY;COUNT=5",
        0,
        b"FREQ=WEEKLY;UNTIL=20260413T060000Z",
    ),
    "a count that has moved on ends there too": (
        datetime(2026, 3, 16, 8, 0),
        True,
        "Europe/Berlin",
        "FREQ=WEEKLY;COUNT=5",
        2,
        b"FREQ=WEEKLY;UNTIL=20260413T060000Z",
    ),
    # Berlin's local mean time then: +00:53:28
    "a year before 1000 keeps four digits": (
        datetime(999, 3, 2, 9, 0),
        True,
        "Europe/Berlin",
        "FREQ=WEEKLY;UNTIL=09990330",
        0,
        b"FREQ=WEEKLY;UNTIL=09990330T230631Z",
    ),
    "an all-day count ends on its last day": (
        datetime(2026, 3, 16),
        False,
        "America/Santiago",
        "FREQ=DAILY;INTERVAL=7;COUNT=3",
        1,
        b"FREQ=DAILY;UNTIL=20260330;INTERVAL=7",
    ),
    "a sparse count ends at its last occurrence": (
        datetime(2028, 2, 29, 9, 0),
        True,
        "Europe/Berlin",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;COUNT=3",
        0,
        b"FREQ=DAILY;UNTIL=20360229T080000Z;BYMONTHDAY=29;BYMONTH=2",
    ),
    # 29 February on a Monday: 2044, 2072, 2112, further than ical.SEARCH_PERIODS looks
    "a count too far to look for stays a count": (
        datetime(2044, 2, 29, 9, 0),
        True,
        "Europe/Berlin",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=3",
        0,
        b"FREQ=DAILY;COUNT=3;BYDAY=MO;BYMONTHDAY=29;BYMONTH=2",
    ),
}


@pytest.mark.parametrize(
    ("due", "timed", "zone", "rule", "skipped", "written"),
    RULES_WRITTEN.values(),
    ids=RULES_WRITTEN.keys(),
)
def test_the_rule_is_written_in_the_form_of_its_start(
    api: ApiClient,
    alice: Account,
    due: datetime,
    timed: bool,
    zone: str,
    rule: str,
    skipped: int,
    written: bytes,
) -> None:
    task = _task(
        api,
        alice,
        "Recurring",
        due_date=str(due.date()),
        due_time=f"{due:%H:%M}" if timed else None,
        timezone=zone,
        recurrence={"rule": rule, "mode": "schedule"},
    )
    for _ in range(skipped):
        assert api.post(f"/api/tasks/{task['id']}/skip", alice.token).status_code == 200

    (event,) = _feed(api, alice).walk("VEVENT")

    assert event["RRULE"].to_ical() == written


def test_a_zone_the_iana_database_dropped_reads_as_utc(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task = _task(api, alice, "Old zone", due_date="2026-12-01", due_time="09:00")
    set_task(app, task["id"], timezone="Mars/Olympus_Mons")

    (event,) = _feed(api, alice).walk("VEVENT")

    assert event.decoded("DTSTART") == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_task_due_at_the_edge_of_the_calendar_is_left_out_not_a_failed_feed(
    api: ApiClient, alice: Account
) -> None:
    # the last and first days a task may be due (docs/api.md: a day later is refused)
    _task(api, alice, "Last day", due_date="9999-12-29")
    _task(api, alice, "Last minute", due_date="9999-12-29", due_time="23:59", timezone="Etc/GMT+12")
    _task(api, alice, "First day", due_date="0001-01-03", timezone="Pacific/Kiritimati")
    _task(api, alice, "Ordinary", due_date="2026-12-01")

    events = events_by_summary(_feed(api, alice))

    assert "Ordinary" in events


def test_the_feed_holds_the_soonest_tasks_up_to_its_bound(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    first = date(2026, 1, 1)
    with app.app_context():
        now = datetime.now(UTC)
        db.session.execute(
            sa.insert(Task),
            [
                {
                    "user_id": alice.id,
                    "title": f"Task {n}",
                    "description": "",
                    "status": "pending",
                    "priority": 2,
                    "due_date": first + timedelta(days=MAX_EVENTS - n),  # latest first
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(MAX_EVENTS + 1)
            ],
        )
        db.session.commit()

    events = _feed(api, alice).walk("VEVENT")

    assert len(events) == MAX_EVENTS
    starts = {event.decoded("DTSTART") for event in events}
    assert min(starts) == first
    assert first + timedelta(days=MAX_EVENTS) not in starts
