"""A recurring task's event, expanded by an independent library
(``recurring-ical-events``), falls on the same instants as the task's own occurrences
(``doable.tasks.recurrence``), across daylight-saving transitions: the RRULE, its
UNTIL/COUNT in RFC 5545's form and the VTIMEZONE say the same thing to a calendar app
as the server means."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import icalendar
import pytest
import recurring_ical_events
from flask import Flask
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from doable.tasks.recurrence import InvalidRule, instant, parse_rule, series, upcoming, zone
from tests.support.calendar_feed import new_feed, read_feed, set_task
from tests.support.factories import Account, ApiClient

#: How many occurrences each check compares (one more than a finite series may have
#: shows that both end at the same one).
COMPARED = 40
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
ZONES = (
    "Europe/Berlin",
    "America/Santiago",
    "Australia/Sydney",
    "America/New_York",
    "Pacific/Auckland",
    "Asia/Kolkata",
)
#: Times of day at or near the transitions of those zones (Santiago's at midnight).
TIMES = (time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 30), time(3, 0), time(23, 30))


@dataclass(frozen=True)
class Series:
    """A recurring task as the tasks service keeps it: the rule from ``anchor`` (naive
    local) in ``zone``, currently due at its occurrence number ``current``."""

    rule: str
    anchor: datetime
    zone: str
    timed: bool
    current: int = 0

    def due(self) -> datetime:
        occurrences = series(self.rule, self.anchor, zone(self.zone))
        return next(itertools.islice(occurrences, self.current, None))


def _write(app: Flask, api: ApiClient, account: Account, case: Series) -> int:
    """The task, written as the tasks service would keep it; its id."""
    due = case.due()
    created = api.post(
        "/api/tasks", account.token, json={"title": "Recurring", "due_date": str(due.date())}
    )
    assert created.status_code == 201, created.json
    set_task(
        app,
        created.json["id"],
        due_time=due.time() if case.timed else None,
        timezone=case.zone,
        due_at=instant(due, zone(case.zone)),
        recurrence_rule=case.rule,
        recurrence_mode="schedule",
        recurrence_anchor=case.anchor,
    )
    return created.json["id"]  # type: ignore[no-any-return]


def _expected(case: Series) -> list[Any]:
    """The task's occurrences from its current one: instants, or days for a date-only task."""
    tz = zone(case.zone)
    local = upcoming(case.rule, case.anchor, tz, case.due(), COMPARED)
    return [instant(moment, tz) if case.timed else moment.date() for moment in local]


def _expanded(calendar: icalendar.Calendar, task_id: int) -> list[Any]:
    """What ``recurring-ical-events`` makes of the task's event: its first starts."""
    uid = f"task-{task_id}@localhost"
    occurrences = (
        event
        for event in recurring_ical_events.of(calendar).after(date(1970, 1, 1))
        if str(event["UID"]) == uid
    )
    starts = [event.decoded("DTSTART") for event in itertools.islice(occurrences, COMPARED)]
    return [start.astimezone(UTC) if isinstance(start, datetime) else start for start in starts]


CASES = {
    # spring forward 29 Mar (02:00 -> 03:00), fall back 25 Oct (03:00 -> 02:00)
    "berlin daily in the gap and the fold": Series(
        "FREQ=DAILY", datetime(2026, 3, 27, 2, 30), "Europe/Berlin", timed=True
    ),
    "berlin october fold": Series(
        "FREQ=DAILY;COUNT=5", datetime(2026, 10, 23, 2, 30), "Europe/Berlin", timed=True
    ),
    "berlin weekdays at 09:00": Series(
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", datetime(2026, 3, 23, 9, 0), "Europe/Berlin", True
    ),
    "berlin until a date": Series(
        "FREQ=WEEKLY;BYDAY=SU;UNTIL=20261101", datetime(2026, 10, 4, 2, 30), "Europe/Berlin", True
    ),
    # spring forward 6 Sep at 00:00 (-> 01:00), fall back 5 Apr at 00:00 (-> 23:00 on the 4th)
    "santiago midnight": Series(
        "FREQ=DAILY", datetime(2026, 9, 3, 0, 0), "America/Santiago", timed=True
    ),
    "santiago before the fold": Series(
        "FREQ=DAILY;INTERVAL=1;COUNT=6", datetime(2026, 4, 2, 23, 30), "America/Santiago", True
    ),
    "santiago all day": Series(
        "FREQ=WEEKLY;BYDAY=SU,MO", datetime(2026, 8, 30), "America/Santiago", timed=False
    ),
    # spring forward 4 Oct (02:00 -> 03:00), fall back 5 Apr (03:00 -> 02:00)
    "sydney monthly first sunday": Series(
        "FREQ=MONTHLY;BYDAY=1SU", datetime(2026, 3, 1, 2, 30), "Australia/Sydney", timed=True
    ),
    "sydney until utc": Series(
        "FREQ=DAILY;UNTIL=20261010T000000Z", datetime(2026, 9, 30, 2, 30), "Australia/Sydney", True
    ),
    "sydney all day until utc": Series(
        "FREQ=DAILY;UNTIL=20261010T000000Z", datetime(2026, 9, 30), "Australia/Sydney", False
    ),
    "a count that has moved on": Series(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;COUNT=9",
        datetime(2026, 3, 3, 2, 30),
        "Europe/Berlin",
        timed=True,
        current=3,
    ),
    "yearly on the 29th of february": Series(
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", datetime(2028, 2, 29, 8, 0), "Asia/Kolkata", True
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_event_expands_to_the_task_s_occurrences(
    app: Flask, api: ApiClient, alice: Account, case: Series
) -> None:
    task_id = _write(app, api, alice, case)

    calendar = read_feed(api, new_feed(api, alice)["url"])

    assert _expanded(calendar, task_id) == _expected(case)


RULES = st.builds(
    lambda freq, interval, days, end: ";".join(
        part for part in (f"FREQ={freq}", f"INTERVAL={interval}", days, end) if part
    ),
    st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]),
    st.integers(1, 3),
    st.one_of(
        st.just(""),
        st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True).map(
            lambda days: "BYDAY=" + ",".join(days)
        ),
        st.sampled_from(["BYMONTHDAY=1,15", "BYMONTHDAY=-1", "BYDAY=2TU", "BYDAY=-1FR"]),
    ),
    st.one_of(
        st.just(""),
        st.integers(1, 30).map(lambda n: f"COUNT={n}"),
        st.dates(date(2026, 2, 1), date(2027, 12, 31)).map(lambda d: f"UNTIL={d:%Y%m%d}"),
        st.datetimes(datetime(2026, 2, 1), datetime(2027, 12, 31)).map(
            lambda m: f"UNTIL={m:%Y%m%dT%H%M%S}Z"
        ),
    ),
)


def test_any_rule_in_any_zone_expands_to_the_task_s_occurrences(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    url = new_feed(api, alice)["url"]

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        rule=RULES,
        day=st.dates(date(2026, 1, 1), date(2027, 6, 30)),
        at=st.one_of(
            st.sampled_from(TIMES),
            st.times().map(lambda t: t.replace(second=0, microsecond=0, fold=0)),
        ),
        zone_name=st.sampled_from(ZONES),
        timed=st.booleans(),
        current=st.integers(0, 3),
    )
    def check(rule: str, day: date, at: time, zone_name: str, timed: bool, current: int) -> None:
        anchor = datetime.combine(day, at if timed else time(0))
        try:
            normalised = parse_rule(rule, anchor, zone(zone_name))
        except InvalidRule:
            assume(False)
        case = Series(normalised, anchor, zone_name, timed, current)
        assume(len(_expected(Series(normalised, anchor, zone_name, timed))) > current)
        task_id = _write(app, api, alice, case)
        try:
            assert _expanded(read_feed(api, url), task_id) == _expected(case)
        finally:
            assert api.delete(f"/api/tasks/{task_id}", alice.token).status_code == 204

    check()
