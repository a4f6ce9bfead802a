"""A recurring task's event, expanded by an independent library
(``recurring-ical-events``), falls on the instants ``GET /api/tasks/<id>/occurrences``
lists, across daylight-saving transitions: the RRULE, its UNTIL in RFC 5545's form and
the VTIMEZONE tell a calendar app what the server means."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import icalendar
import pytest
import recurring_ical_events
import time_machine
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.calendar_feed import new_feed, read_feed
from tests.support.factories import Account, ApiClient

#: How many occurrences each check compares (a finite series shorter than that shows
#: both end at the same one).
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
TIMES = ("00:00", "00:30", "01:30", "02:00", "02:30", "03:00", "23:30")


@dataclass(frozen=True)
class Case:
    """A recurring task: due ``due`` (local; a date alone when not ``timed``) in
    ``zone``, by ``rule`` and ``mode``, and ``skipped`` occurrences later."""

    rule: str
    due: datetime
    zone: str
    timed: bool = True
    mode: str = "schedule"
    skipped: int = 0

    def body(self) -> dict[str, Any]:
        return {
            "title": "Recurring",
            "due_date": str(self.due.date()),
            "due_time": f"{self.due:%H:%M}" if self.timed else None,
            "timezone": self.zone,
            "recurrence": {"rule": self.rule, "mode": self.mode},
        }


def _create(api: ApiClient, account: Account, case: Case) -> int | None:
    """The task, moved on by its skips; its id (None: the rule was refused)."""
    created = api.post("/api/tasks", account.token, json=case.body())
    if created.status_code == 400:
        return None
    assert created.status_code == 201, created.json
    task_id: int = created.json["id"]
    for _ in range(case.skipped):
        skipped = api.post(f"/api/tasks/{task_id}/skip", account.token)
        assert skipped.status_code == 200, skipped.json
    return task_id


def _listed(api: ApiClient, account: Account, task_id: int, timed: bool) -> list[Any]:
    """``/occurrences``: instants (UTC), or local days for a date-only task."""
    response = api.get(f"/api/tasks/{task_id}/occurrences?limit={COMPARED}", account.token)
    assert response.status_code == 200, response.json
    occurrences = response.json["occurrences"]
    if timed:
        return [datetime.fromisoformat(o["utc"]).astimezone(UTC) for o in occurrences]
    return [datetime.fromisoformat(o["local"]).date() for o in occurrences]


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


def _check(api: ApiClient, account: Account, url: str, task_id: int, timed: bool) -> None:
    """The same occurrences (none: the series ended, the task is completed, the feed
    leaves it out)."""
    assert _expanded(read_feed(api, url), task_id) == _listed(api, account, task_id, timed)


CASES = {
    # spring forward 29 Mar (02:00 -> 03:00), fall back 25 Oct (03:00 -> 02:00)
    "berlin daily in the gap": Case("FREQ=DAILY", datetime(2026, 3, 27, 2, 30), "Europe/Berlin"),
    "berlin daily in the fold": Case(
        "FREQ=DAILY;COUNT=5", datetime(2026, 10, 23, 2, 30), "Europe/Berlin"
    ),
    "berlin weekdays at 09:00": Case(
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", datetime(2026, 3, 23, 9, 0), "Europe/Berlin"
    ),
    "berlin until a date": Case(
        "FREQ=WEEKLY;BYDAY=SU;UNTIL=20261101", datetime(2026, 10, 4, 2, 30), "Europe/Berlin"
    ),
    "berlin due on a day the rule does not give": Case(
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3", datetime(2026, 3, 22, 2, 30), "Europe/Berlin"
    ),
    # spring forward 6 Sep at 00:00 (-> 01:00), fall back 5 Apr at 00:00 (-> 23:00 the 4th)
    "santiago midnight": Case("FREQ=DAILY", datetime(2026, 9, 3, 0, 0), "America/Santiago"),
    "santiago before the fold": Case(
        "FREQ=DAILY;COUNT=6", datetime(2026, 4, 2, 23, 30), "America/Santiago"
    ),
    "santiago all day": Case(
        "FREQ=WEEKLY;BYDAY=SU,MO", datetime(2026, 8, 30), "America/Santiago", timed=False
    ),
    "santiago after completion": Case(
        "FREQ=DAILY;INTERVAL=2",
        datetime(2026, 9, 1, 0, 0),
        "America/Santiago",
        mode="after_completion",
        skipped=1,
    ),
    # spring forward 4 Oct (02:00 -> 03:00), fall back 5 Apr (03:00 -> 02:00)
    "sydney monthly first sunday": Case(
        "FREQ=MONTHLY;BYDAY=1SU", datetime(2026, 3, 1, 2, 30), "Australia/Sydney"
    ),
    "sydney until utc": Case(
        "FREQ=DAILY;UNTIL=20261010T000000Z", datetime(2026, 9, 30, 2, 30), "Australia/Sydney"
    ),
    "sydney all day until utc": Case(
        "FREQ=DAILY;UNTIL=20261010T000000Z",
        datetime(2026, 9, 30),
        "Australia/Sydney",
        timed=False,
    ),
    "a count that has moved on": Case(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;COUNT=9",
        datetime(2026, 3, 3, 2, 30),
        "Europe/Berlin",
        skipped=3,
    ),
    "a count too far to look for": Case(
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=3",
        datetime(2044, 2, 29, 9, 0),
        "Europe/Berlin",
    ),
    "yearly on the 29th of february": Case(
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", datetime(2028, 2, 29, 8, 0), "Asia/Kolkata"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_event_expands_to_the_task_s_occurrences(
    api: ApiClient, alice: Account, case: Case
) -> None:
    task_id = _create(api, alice, case)
    assert task_id is not None
    assert _listed(api, alice, task_id, case.timed)

    _check(api, alice, new_feed(api, alice)["url"], task_id, case.timed)


def test_after_completion_the_series_starts_again_from_the_day_it_was_done(
    api: ApiClient,
) -> None:
    case = Case(
        "FREQ=DAILY;INTERVAL=2",
        datetime(2026, 9, 1, 0, 0),
        "America/Santiago",
        mode="after_completion",
    )
    with time_machine.travel(datetime(2026, 9, 4, 15, 0, tzinfo=UTC), tick=True):
        account = api.account()  # logged in at that time
        task_id = _create(api, account, case)
        assert task_id is not None
        done = api.post(f"/api/tasks/{task_id}/complete", account.token)
        assert done.status_code == 200, done.json

        listed = _listed(api, account, task_id, timed=True)
        # two days after the 4th: the 6th, whose 00:00 Santiago skips (-> 01:00, -03)
        assert listed[0] == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
        _check(api, account, new_feed(api, account)["url"], task_id, timed=True)


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
CLOCK = st.one_of(st.sampled_from(TIMES), st.times().map(lambda t: f"{t.hour:02}:{t.minute:02}"))


def test_any_rule_in_any_zone_expands_to_the_task_s_occurrences(
    api: ApiClient, alice: Account
) -> None:
    url = new_feed(api, alice)["url"]

    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        rule=RULES,
        day=st.dates(date(2026, 1, 1), date(2027, 6, 30)),
        clock=st.one_of(st.none(), CLOCK),
        zone=st.sampled_from(ZONES),
        mode=st.sampled_from(["schedule", "after_completion"]),
        skipped=st.integers(0, 3),
    )
    def check(rule: str, day: date, clock: str | None, zone: str, mode: str, skipped: int) -> None:
        timed = clock is not None
        due = datetime.combine(day, time.fromisoformat(clock) if clock else time(0))
        case = Case(rule, due, zone, timed=timed, mode=mode, skipped=skipped)
        task_id = _create(api, alice, case)
        assume(task_id is not None)
        assert task_id is not None
        try:
            _check(api, alice, url, task_id, timed)
        finally:
            assert api.delete(f"/api/tasks/{task_id}", alice.token).status_code == 204

    check()
