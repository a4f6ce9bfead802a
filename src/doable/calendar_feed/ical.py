"""A feed's tasks as iCalendar (RFC 5545), written with ``icalendar``: one VEVENT a task.

VEVENT, not VTODO: Google Calendar, Apple Calendar and Outlook show only events from a
subscribed calendar (they drop VTODOs, or read no VTODO at all), while every app
that reads VTODOs reads VEVENTs too. So a task is an event at its due moment:

- a date-only task is an all-day event (``DTSTART;VALUE=DATE``, ``DTEND`` the next day);
- a timed one starts at its due time in its zone (``DTSTART;TZID=...``, the zone's
  VTIMEZONE included) and lasts ``TIMED_LENGTH``; it is ``TRANSP:TRANSPARENT``, so it
  never shows its owner as busy;
- a recurring one carries its rule (``RRULE``) from its current occurrence on, in the
  form RFC 5545 requires for that start (``_rule``), so calendar apps expand it to the
  occurrences ``GET /api/tasks/<id>/occurrences`` lists;
- each ``before_due`` reminder is a VALARM (``TRIGGER:-PT30M``), as is an ``at`` one on
  a task that does not recur (an absolute trigger would not follow the occurrences).
  The trigger is an exact duration (``-PT24H``, never ``-P1D``): RFC 5545 makes a day
  nominal (the same wall time a day back, 23 or 25 hours across a DST change), while
  the server's reminder goes exactly that long before the due instant
  (``reminders.schedule``), and a calendar's alarm must ring when the server's does.

Everything written derives from the tasks (``DTSTAMP`` is the task's last change, as
RFC 5545 has it for an object without ``METHOD``), so the same tasks give the same
bytes, and the feed's ETag (``digest``) is computed from the tasks alone: a poll that
has the feed already is answered 304 without writing it (2,000 events take about a
second to write, their digest some 40 ms).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from icalendar import Alarm, Calendar, Event, Timezone, vDuration, vRecur
from sqlalchemy import Row

from doable.tasks.models import category_names
from doable.tasks.recurrence import (
    DEFAULT_ZONE,
    UnknownZone,
    due_moment,
    duration,
    instant,
    local_moment,
    local_time,
    series,
    zone,
)

PRODID = "-//Doable//Calendar feed//EN"
#: Part of every feed's digest: raise it when the same tasks are written differently,
#: so calendar apps holding the feed get it again rather than a 304.
FORMAT = 2
#: How long a timed task's event lasts: enough to be seen in a day view, short enough
#: not to cover the day (a due time is a moment, not a meeting).
TIMED_LENGTH = timedelta(minutes=30)
#: How often calendar apps are asked to fetch the feed again (RFC 7986
#: ``REFRESH-INTERVAL``; Outlook reads ``X-PUBLISHED-TTL``). Most apps poll at their
#: own pace whatever it says: Google Calendar about twice a day.
REFRESH = timedelta(hours=1)
#: The years each VTIMEZONE spells out (apps that know the zone by name ignore it).
ZONE_SPAN = (date(1970, 1, 1), date(2100, 1, 1))
#: How many periods of its frequency (each ``INTERVAL`` long) a series ending by COUNT is
#: followed to find its last occurrence, about 20 ms of dateutil's time at most for each
#: (a DAILY rule: 55 years; a YEARLY one: 500).
SEARCH_PERIODS = {"DAILY": 20_000, "WEEKLY": 5_000, "MONTHLY": 5_000, "YEARLY": 500}
_PERIOD = {
    "DAILY": relativedelta(days=1),
    "WEEKLY": relativedelta(weeks=1),
    "MONTHLY": relativedelta(months=1),
    "YEARLY": relativedelta(years=1),
}
_UTC_FORM = "%Y%m%dT%H%M%SZ"
_DATE_FORM = "%Y%m%d"


@dataclass(frozen=True)
class Links:
    """Where the feed is served: the URL it starts with (``links.base_url()``), the host
    its UIDs name, and each task's page."""

    base: str
    host: str
    task_url: Callable[[int], str]


def digest(tasks: Sequence[Row[Any]], *, name: str, links: Links) -> str:
    """What ``calendar_bytes`` writes is a function of: its arguments' values (the rows
    read by ``service.feed_tasks``, every column of which it uses) and ``FORMAT``."""
    hashed = hashlib.sha256(repr((FORMAT, name, links.base)).encode())
    for task in tasks:
        hashed.update(repr(tuple(task)).encode())
    return hashed.hexdigest()


def calendar_bytes(tasks: Sequence[Row[Any]], *, name: str, links: Links) -> bytes:
    """The VCALENDAR of ``tasks`` (``service.feed_tasks`` rows), called ``name``."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    events = list(_events(tasks, links))
    zones = sorted({tzid for event in events for tzid in _tzids(event)})
    for tzid in zones:  # before the events that name them
        calendar.add_component(_vtimezone(tzid))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()  # type: ignore[no-any-return]


def _events(tasks: Sequence[Row[Any]], links: Links) -> Iterator[Event]:
    for task in tasks:
        try:
            yield _event(task, links)
        except (ValueError, OverflowError):
            # Due at the edge of the calendar (the years 1 and 9999), where the next day
            # or the instant is past what a datetime holds: left out, not a failed feed.
            continue


def _event(task: Row[Any], links: Links) -> Event:
    tz = _zone_of(task)
    start = due_moment(task.due_date, task.due_time)
    event = Event()
    event.add("uid", f"task-{task.id}@{links.host}")
    event.add("dtstamp", task.updated_at)
    event.add("created", task.created_at)
    event.add("last-modified", task.updated_at)
    event.add("sequence", task.version)
    event.add("summary", task.title)
    if task.description:
        event.add("description", task.description)
    event.add("url", links.task_url(task.id))
    categories = category_names(task)
    if categories:
        event.add("categories", categories)
    event.add("transp", "TRANSPARENT")
    if task.due_time is None:
        event.add("dtstart", task.due_date)
        event.add("dtend", task.due_date + timedelta(days=1))
    else:
        end = local_time(instant(start, tz) + TIMED_LENGTH, tz)
        event.add("dtstart", start.replace(tzinfo=tz))
        event.add("dtend", end.replace(tzinfo=tz))
    if task.recurrence_rule:
        event.add("rrule", vRecur.from_ical(_rule(task, start, tz)))
    for alarm in _alarms(task, tz):
        event.add_component(alarm)
    return event


def _zone_of(task: Row[Any]) -> ZoneInfo:
    """The task's zone: its own, else its owner's (a name the IANA database no longer
    has, after an update of it, reads as UTC rather than failing the whole feed)."""
    try:
        return zone(task.timezone or task.owner_zone or DEFAULT_ZONE)
    except UnknownZone:
        return zone(DEFAULT_ZONE)


def _rule(task: Row[Any], start: datetime, tz: ZoneInfo) -> str:
    """The task's rule as RFC 5545 wants it from ``start``, its current occurrence, for
    the occurrences ``tasks.timing.upcoming`` lists: the current one first, whether the
    rule gives it or not (as RFC 5545 counts DTSTART), then the rule's. The current one
    is the series' anchor or one of its occurrences, so the rule's periods (INTERVAL,
    WKST) count the same from either.

    UNTIL takes the form of DTSTART: a date for an all-day start, a UTC time for a timed
    one (a zoned or UTC start). COUNT would count from DTSTART (and, by RFC 5545, count
    a DTSTART the rule does not give, where some apps do not), so the series ends
    instead at its last occurrence from its anchor (``_last_occurrence``); when that is
    too far to look for, COUNT stays as written (``after_completion`` takes none)."""
    timed = task.due_time is not None
    parts = _parts(task.recurrence_rule)
    if "COUNT" in parts:
        last = _last_occurrence(task.recurrence_rule, task.recurrence_anchor or start, tz)
        if last is not None:
            del parts["COUNT"]
            parts["UNTIL"] = _until_form(last, tz, timed=timed)
    elif "UNTIL" in parts:
        parts["UNTIL"] = _until_form(_until_local(parts["UNTIL"], tz), tz, timed=timed)
    return ";".join(f"{name}={value}" for name, value in parts.items())


def _last_occurrence(rule: str, anchor: datetime, tz: ZoneInfo) -> datetime | None:
    """The last occurrence of a series that ends by COUNT, when it comes no later than
    ``SEARCH_PERIODS`` of its frequency after ``anchor``; else None.

    dateutil steps through every period, matching or not: a sparse rule
    (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;COUNT=299``) took seconds to expand
    to its end, on every feed build. Now the search stops at the first occurrence past
    the horizon (``parse_rule`` admits only rules that occur, and a rule's pattern
    repeats with the calendar's, so one comes)."""
    parts = _parts(rule)
    periods = SEARCH_PERIODS[parts["FREQ"]] * int(parts.get("INTERVAL", 1))
    try:
        horizon = anchor + _PERIOD[parts["FREQ"]] * periods
    except (ValueError, OverflowError):  # past the year 9999, where dateutil stops anyway
        horizon = datetime.max
    last = None
    for occurrence in series(rule, anchor, tz):
        if occurrence > horizon:
            return None
        last = occurrence
    return last


def _parts(rule: str) -> dict[str, str]:
    """``FREQ=DAILY;COUNT=3`` as ``{"FREQ": "DAILY", "COUNT": "3"}``, in order."""
    return dict(part.split("=", 1) for part in rule.split(";"))


def _until_local(value: str, tz: ZoneInfo) -> datetime:
    """A rule's UNTIL (``recurrence.parse_rule`` let only these two forms through) as a
    local wall time: a date is its last second, a UTC time its local time."""
    if value.endswith("Z"):
        return local_time(datetime.strptime(value, _UTC_FORM).replace(tzinfo=UTC), tz)
    return datetime.combine(datetime.strptime(value, _DATE_FORM).date(), time(23, 59, 59))


def _until_form(local: datetime, tz: ZoneInfo, *, timed: bool) -> str:
    """UNTIL in RFC 5545's form (from ``isoformat``, which writes four-digit years where
    ``strftime`` writes ``439`` for the year 439)."""
    if timed:
        moment = instant(local, tz).replace(tzinfo=None).isoformat(timespec="seconds")
        return moment.replace("-", "").replace(":", "") + "Z"
    return local.date().isoformat().replace("-", "")


def _alarms(task: Row[Any], tz: ZoneInfo) -> Iterator[Alarm]:
    """A VALARM per reminder a calendar can keep (module docstring); one it cannot read
    (none should be stored) is left out rather than failing the feed."""
    for reminder in task.reminders or []:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", task.title)
        try:
            if "before_due" in reminder:
                alarm.add("trigger", _ExactDuration(-duration(reminder["before_due"])))
            elif "at" in reminder and not task.recurrence_rule:
                at = instant(local_moment(reminder["at"]), tz)
                alarm.add("trigger", at, parameters={"VALUE": "DATE-TIME"})
            else:
                continue
        except (ValueError, TypeError):
            continue
        yield alarm


class _ExactDuration(vDuration):
    """A duration in RFC 5545's exact form alone, hours, minutes and seconds
    (``-PT24H``, ``-PT1H0M5S``): ``vDuration`` writes whole days as days, which RFC 5545
    reads as nominal."""

    def to_ical(self) -> bytes:
        seconds = round(self.td.total_seconds())
        sign = "-" if seconds < 0 else ""
        hours, seconds = divmod(abs(seconds), 3600)
        minutes, seconds = divmod(seconds, 60)
        # dur-hour = 1*DIGIT "H" [dur-minute], dur-minute = 1*DIGIT "M" [dur-second]
        text = f"{hours}H" if hours else ""
        if minutes or (text and seconds):
            text += f"{minutes}M"
        if seconds or not text:
            text += f"{seconds}S"
        return f"{sign}PT{text}".encode()


def _tzids(event: Event) -> Iterator[str]:
    for name in ("DTSTART", "DTEND"):
        tzid = event[name].params.get("TZID")
        if tzid:
            yield tzid


@lru_cache(maxsize=64)
def _vtimezone(tzid: str) -> Timezone:
    """The zone's VTIMEZONE over ``ZONE_SPAN`` (built once per zone and process: it is
    never changed once made, so feeds share it)."""
    return Timezone.from_tzid(tzid, first_date=ZONE_SPAN[0], last_date=ZONE_SPAN[1])
