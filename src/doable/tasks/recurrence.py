"""Time for tasks: zones, local wall time to instants, and recurring rules
(docs/api.md, Time zones and recurrence).

Everything here is computed in local wall time, then converted (``instant``): a local
time that does not exist (the hour skipped when clocks spring forward) moves forward by
the gap, so 02:30 on a night that jumps from 02:00 to 03:00 is 03:30; one that happens
twice (clocks fall back) is the first of the two instants. That is PEP 495's ``fold=0``.

A rule is an RFC 5545 RRULE value without DTSTART: a task's series is anchored on its
due date and time, in the task's zone. ``parse_rule`` refuses what would be slow or
never occur before ``python-dateutil`` is asked to expand it: dateutil searches period
by period up to the year 9999 for a rule with no occurrence (seconds for a daily one).
Every expansion also ends ``HORIZON_YEARS`` after its anchor: a rule with no occurrence
within that horizon counts as never occurring, and a series ends there.
"""

from __future__ import annotations

import calendar
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from dateutil.rrule import rrule, rrulestr

#: The zones a user or task may name: the IANA database's (``tzdata`` when the system
#: has none), read once.
ZONES = frozenset(available_timezones()) | {"UTC"}
DEFAULT_ZONE = "UTC"
MODES = ("schedule", "after_completion")
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
#: The parts a rule may have, and the frequencies each is allowed with (RFC 5545 3.3.10:
#: BYWEEKNO with YEARLY only, BYYEARDAY not with DAILY, WEEKLY or MONTHLY, BYMONTHDAY
#: not with WEEKLY). BYHOUR, BYMINUTE and BYSECOND would repeat within a day: refused.
PARTS = {
    "FREQ": FREQUENCIES,
    "INTERVAL": FREQUENCIES,
    "COUNT": FREQUENCIES,
    "UNTIL": FREQUENCIES,
    "WKST": FREQUENCIES,
    "BYDAY": FREQUENCIES,
    "BYMONTH": FREQUENCIES,
    "BYSETPOS": FREQUENCIES,
    "BYMONTHDAY": ("DAILY", "MONTHLY", "YEARLY"),
    "BYYEARDAY": ("YEARLY",),
    "BYWEEKNO": ("YEARLY",),
}
MAX_INTERVAL = 1000
MAX_COUNT = 1000
#: The Gregorian calendar, weekdays included, repeats every 400 years (146,097 days).
_CYCLE_YEARS = 400
#: How far from its anchor a series is expanded: one calendar cycle, so a rule without
#: INTERVAL that occurs at all occurs within it. dateutil checks UNTIL only on the
#: occurrences it finds: unbounded, a rule that stops matching is searched to 9999.
HORIZON_YEARS = _CYCLE_YEARS
MAX_RULE_LENGTH = 500
#: The most occurrences ``GET /api/tasks/<id>/occurrences`` lists.
MAX_PREVIEW = 50

_WEEKDAY = r"(MO|TU|WE|TH|FR|SA|SU)"
_SYNTAX = {
    "INTERVAL": re.compile(r"[1-9][0-9]{0,3}"),
    "COUNT": re.compile(r"[1-9][0-9]{0,3}"),
    "WKST": re.compile(_WEEKDAY),
    "BYDAY": re.compile(rf"([+-]?[1-9][0-9]?)?{_WEEKDAY}(,([+-]?[1-9][0-9]?)?{_WEEKDAY})*"),
    "BYMONTH": re.compile(r"(1[0-2]|[1-9])(,(1[0-2]|[1-9]))*"),
    "BYMONTHDAY": re.compile(r"[+-]?(3[01]|[12][0-9]|[1-9])(,[+-]?(3[01]|[12][0-9]|[1-9]))*"),
    "BYYEARDAY": re.compile(r"[+-]?[1-9][0-9]{0,2}(,[+-]?[1-9][0-9]{0,2})*"),
    "BYWEEKNO": re.compile(r"[+-]?[1-9][0-9]?(,[+-]?[1-9][0-9]?)*"),
    "BYSETPOS": re.compile(r"[+-]?[1-9][0-9]{0,2}(,[+-]?[1-9][0-9]{0,2})*"),
}
#: UNTIL: a date (the last local day an occurrence may fall on), or a UTC date-time
#: (RFC 5545's form for a series anchored in a zone). A floating date-time is refused.
_UNTIL_DATE = re.compile(r"([0-9]{8})")
_UNTIL_UTC = re.compile(r"([0-9]{8}T[0-9]{6})Z")


class InvalidRule(ValueError):
    """The rule cannot be used; the message says why, for the ``recurrence`` error."""


class UnknownZone(ValueError):
    """Not an IANA time zone name."""


def zone(name: str) -> ZoneInfo:
    """The zone called ``name``; ``UnknownZone`` if the IANA database has none."""
    if name not in ZONES:
        raise UnknownZone(f"{name!r} is not an IANA time zone such as Europe/Berlin")
    return _zone(name)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def instant(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the local wall time ``local`` (naive) in ``tz``: a time in a
    spring-forward gap moves forward by the gap, an ambiguous one is its first instant."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def instant_or_none(local: datetime, tz: ZoneInfo) -> datetime | None:
    """``instant``, or ``None`` for a wall time whose instant is outside what a
    ``datetime`` holds (the first or last day of the years 1 and 9999 in some zones)."""
    try:
        return instant(local, tz)
    except OverflowError:
        return None


def local_time(moment: datetime, tz: ZoneInfo) -> datetime:
    """The local wall time (naive) of the aware instant ``moment`` in ``tz``."""
    return moment.astimezone(tz).replace(tzinfo=None)


def today_in(tz: ZoneInfo, now: datetime | None = None) -> date:
    """The local date in ``tz`` now (or at ``now``, an aware instant)."""
    return (now or datetime.now(UTC)).astimezone(tz).date()


def due_moment(due_date: date, due_time: time | None) -> datetime:
    """A task's due wall time: its time that day, or the day's start when it has none."""
    return datetime.combine(due_date, due_time or time(0))


#: The due dates a task may have: two days inside the calendar's ends, so that its
#: instant, and that instant's wall time in any zone (UTC-12 to UTC+14), are datetimes
#: too: a task due 9999-12-31 23:59 UTC read in Berlin would be in the year 10000.
FIRST_DAY = date(1, 1, 3)
LAST_DAY = date(9999, 12, 29)


def in_calendar(day: date) -> bool:
    """Whether a task may be due on ``day`` (``FIRST_DAY`` to ``LAST_DAY``)."""
    return FIRST_DAY <= day <= LAST_DAY


def occurrence_key(local: datetime, timed: bool) -> str:
    """How an occurrence is named (``complete``/``skip``, fire records): its local date,
    and time when the task has one, e.g. ``2026-03-30`` or ``2026-03-30T09:00``."""
    return at_text(local) if timed else local.date().isoformat()


@dataclass(frozen=True)
class Recurrence:
    """A task's recurrence: the rule (normalised by ``parse_rule``) and how the next
    occurrence is found: on the rule's schedule, or counted from the completion."""

    rule: str
    mode: str = "schedule"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidRule(f"mode must be one of: {', '.join(MODES)}")
        if self.mode == "after_completion" and "COUNT" in _parts(self.rule):
            raise InvalidRule("COUNT cannot be used with after_completion; use UNTIL")


def parse_rule(text: str, anchor: datetime | None = None, tz: ZoneInfo | None = None) -> str:
    """``text`` as a normalised rule (parts upper-cased, in the order given, an
    ``RRULE:`` prefix dropped); ``InvalidRule`` naming what is wrong. With ``anchor``
    (a naive local due time) and ``tz``, also refuse a rule with no occurrence from it."""
    if len(text) > MAX_RULE_LENGTH:
        raise InvalidRule(f"A rule is at most {MAX_RULE_LENGTH} characters")
    parts = _parts(_body(text))
    frequency = parts.get("FREQ")
    if frequency not in FREQUENCIES:
        raise InvalidRule(
            f"FREQ must be one of {', '.join(FREQUENCIES)} (nothing repeats within a day)"
        )
    for name, value in parts.items():
        if name not in PARTS:
            raise InvalidRule(f"{name} is not allowed in a rule")
        if frequency not in PARTS[name]:
            raise InvalidRule(f"{name} cannot be used with FREQ={frequency}")
        syntax = _SYNTAX.get(name)
        if syntax is not None and not syntax.fullmatch(value):
            raise InvalidRule(f"{name}={value} is not in RFC 5545's form")
    _check_bounds(parts)
    if "UNTIL" in parts:
        _until(parts["UNTIL"], ZoneInfo(DEFAULT_ZONE))  # its form
    _check_satisfiable(parts)
    normalised = ";".join(f"{name}={value}" for name, value in parts.items())
    if anchor is not None and tz is not None and _first_or_none(normalised, anchor, tz) is None:
        raise InvalidRule("The rule never occurs from the task's due date")
    return normalised


def _first_or_none(rule: str, anchor: datetime, tz: ZoneInfo) -> datetime | None:
    """``first``, or ``None`` if expanding the rule runs off the calendar (year 9999)."""
    try:
        return first(rule, anchor, tz)
    except (ValueError, OverflowError):
        return None


def _body(text: str) -> str:
    """The rule's text upper-cased, without an ``RRULE:`` prefix; no DTSTART."""
    body = text.strip().upper().removeprefix("RRULE:")
    if "DTSTART" in body or "\n" in body:
        raise InvalidRule("Give the rule alone: the series starts at the task's due date")
    return body


def _parts(body: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for part in body.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not name or not value:
            raise InvalidRule(f"{part!r} is not NAME=VALUE")
        if name in parts:
            raise InvalidRule(f"{name} is given twice")
        parts[name] = value
    return parts


def _check_bounds(parts: dict[str, str]) -> None:
    """Refuse an INTERVAL or COUNT over its bound, and COUNT with UNTIL."""
    for name, most in (("INTERVAL", MAX_INTERVAL), ("COUNT", MAX_COUNT)):
        if int(parts.get(name, 1)) > most:
            raise InvalidRule(f"{name} is at most {most}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise InvalidRule("Give COUNT or UNTIL, not both")


def _check_satisfiable(parts: dict[str, str]) -> None:
    """Refuse what never occurs, or could only be found by a search to the year 9999."""
    frequency = parts["FREQ"]
    months = [int(m) for m in parts["BYMONTH"].split(",")] if "BYMONTH" in parts else None
    if "BYMONTHDAY" in parts and months is not None:
        days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
        longest = max(calendar.monthrange(2024, month)[1] for month in months)  # a leap year
        if all(abs(day) > longest for day in days):
            raise InvalidRule("No month of BYMONTH has a day of BYMONTHDAY")
    dated = [name for name in ("BYMONTHDAY", "BYYEARDAY", "BYWEEKNO") if name in parts]
    if len(dated) > 1 or (dated and dated[0] != "BYMONTHDAY" and months is not None):
        raise InvalidRule(f"Combine at most one of BYMONTHDAY, BYYEARDAY, BYWEEKNO: {dated}")
    if "BYSETPOS" in parts:
        positions = [abs(int(p)) for p in parts["BYSETPOS"].split(",")]
        per_period = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}[frequency]
        if "BYDAY" in parts and frequency == "WEEKLY":
            per_period = len(parts["BYDAY"].split(","))
        if max(positions) > per_period:
            raise InvalidRule(f"BYSETPOS beyond the {per_period} a {frequency} period can hold")
    if (
        "BYDAY" in parts
        and frequency in ("DAILY", "WEEKLY")
        and re.search(r"[0-9]", parts["BYDAY"])
    ):
        raise InvalidRule(f"BYDAY takes no number with FREQ={frequency} (e.g. BYDAY=MO,FR)")


def _until(value: str, tz: ZoneInfo) -> datetime:
    """UNTIL as a naive local time in ``tz``: a date's last second, a UTC time converted."""
    if _UNTIL_DATE.fullmatch(value):
        try:
            day = datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            raise InvalidRule(f"UNTIL={value} is not a date") from None
        return datetime.combine(day, time(23, 59, 59))
    if _UNTIL_UTC.fullmatch(value):
        try:
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise InvalidRule(f"UNTIL={value} is not a date-time") from None
        return local_time(moment, tz)
    raise InvalidRule(
        f"UNTIL={value} must be a date (YYYYMMDD) or a UTC date-time (YYYYMMDDTHHMMSSZ)"
    )


def series(rule: str, anchor: datetime, tz: ZoneInfo) -> rrule:
    """The rule's occurrences from ``anchor`` (naive local wall time), as dateutil
    expands them: naive local wall times, up to ``HORIZON_YEARS`` after the anchor."""
    return _expansion(rule, anchor, _end(rule, anchor, tz))


def _end(rule: str, anchor: datetime, tz: ZoneInfo) -> datetime | None:
    """Where the series ends: its UNTIL, or the horizon if that comes first (``None``:
    the calendar's end does)."""
    until = _parts(rule).get("UNTIL")
    horizon = _later(anchor, HORIZON_YEARS)
    ends = [end for end in (horizon, None if until is None else _until(until, tz)) if end]
    return min(ends, default=None)


def _later(moment: datetime | None, years: int) -> datetime | None:
    """``moment`` that many years on (29 February: 1 March); ``None`` past the year 9999."""
    if moment is None or moment.year + years > datetime.max.year:
        return None
    day = moment.replace(day=28) if (moment.month, moment.day) == (2, 29) else moment
    return day.replace(year=moment.year + years) + (moment - day)


def _expansion(rule: str, anchor: datetime, until: datetime | None) -> rrule:
    parts = _parts(rule)
    parts.pop("UNTIL", None)
    expanded = rrulestr(";".join(f"{k}={v}" for k, v in parts.items()), dtstart=anchor)
    assert isinstance(expanded, rrule)
    if until is None:
        return expanded
    with warnings.catch_warnings():  # COUNT with UNTIL: RFC 5545 has no such rule, we do
        warnings.simplefilter("ignore", DeprecationWarning)
        return expanded.replace(until=until)


def _moved(rule: str, anchor: datetime, tz: ZoneInfo) -> tuple[rrule, int]:
    """The series moved on by whole 400-year cycles (the same weekdays and leap years) to
    where the year 9999 is at most a cycle past its horizon, and the years it moved.

    dateutil checks UNTIL only on the occurrences it finds: a rule that stops matching
    is searched to the year 9999 (half a second for a daily one). Moved, the search ends
    at most ``HORIZON_YEARS`` + 400 years on, whatever the rule."""
    cycles = max(0, (datetime.max.year - HORIZON_YEARS - anchor.year) // _CYCLE_YEARS)
    years = cycles * _CYCLE_YEARS
    until = _end(rule, anchor, tz)
    moved = _expansion(rule, _by(anchor, years), until and _by(until, years))
    return moved, years


def _by(moment: datetime, years: int) -> datetime:
    return moment.replace(year=moment.year + years)


def first(rule: str, anchor: datetime, tz: ZoneInfo) -> datetime | None:
    """The series' first occurrence (the anchor itself when the rule matches it)."""
    return after(rule, anchor, tz, anchor - timedelta(microseconds=1))


def after(rule: str, anchor: datetime, tz: ZoneInfo, moment: datetime) -> datetime | None:
    """The first occurrence of the series from ``anchor`` strictly after ``moment``
    (naive local); ``None`` when the series has ended."""
    found = upcoming(rule, anchor, tz, moment + timedelta(microseconds=1), 1)
    return found[0] if found else None


def upcoming(
    rule: str, anchor: datetime, tz: ZoneInfo, start: datetime, limit: int
) -> list[datetime]:
    """Up to ``limit`` occurrences at or after ``start`` (naive local), in order."""
    moved, years = _moved(rule, anchor, tz)
    if start.year + years > datetime.max.year:
        return []  # past the series' horizon
    found = moved.xafter(_by(max(start, anchor), years), count=limit, inc=True)
    return [_by(occurrence, -years) for occurrence in found]


def next_due(
    recurrence: Recurrence,
    *,
    anchor: datetime,
    current: datetime,
    completed_on: date,
    tz: ZoneInfo,
    not_before: datetime | None = None,
) -> datetime | None:
    """Where completing the occurrence ``current`` (naive local) on the local date
    ``completed_on`` moves the task; ``None`` when the series has ended.

    ``schedule``: the first occurrence after ``current`` that does not fall before
    ``not_before`` (default: the day of completion's start; a task with a due time passes
    the local moment of completion, so an occurrence already past is not owed either):
    an occurrence missed while the task was overdue is not owed.
    ``after_completion``: the rule anchored on the completion day (at the task's time of
    day), its first occurrence after that day."""
    if recurrence.mode == "after_completion":
        restart = datetime.combine(completed_on, current.time())
        return after(recurrence.rule, restart, tz, datetime.combine(completed_on, time.max))
    found = after(recurrence.rule, anchor, tz, current)
    threshold = not_before or datetime.combine(completed_on, time(0))
    if found is not None and found < threshold:
        found = after(recurrence.rule, anchor, tz, threshold - timedelta(microseconds=1))
    return found


def skip_due(
    recurrence: Recurrence, *, anchor: datetime, current: datetime, tz: ZoneInfo
) -> datetime | None:
    """The occurrence after ``current``, whatever the date: skipping passes exactly one."""
    if recurrence.mode == "after_completion":
        return after(recurrence.rule, current, tz, current)
    return after(recurrence.rule, anchor, tz, current)


#: A reminder's ``before_due``: an ISO 8601 duration in weeks, days, hours and minutes
#: (``PT30M``, ``P1D``, ``P1DT12H``, ``P2W``); no years or months (their length varies),
#: no seconds (reminders are reckoned in minutes).
_DURATION = re.compile(
    r"P(?:(?P<weeks>[0-9]{1,2})W)?(?:(?P<days>[0-9]{1,2})D)?"
    r"(?:T(?=[0-9])(?:(?P<hours>[0-9]{1,3})H)?(?:(?P<minutes>[0-9]{1,5})M)?)?"
)
MIN_BEFORE_DUE = timedelta(minutes=1)
MAX_BEFORE_DUE = timedelta(days=28)
#: A reminder's ``at``: a local date and time, to the minute, in the task's zone.
AT_FORMAT = "%Y-%m-%dT%H:%M"
_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


def duration(text: str) -> timedelta:
    """A ``before_due`` as a ``timedelta`` (1 minute to 28 days); ``ValueError`` naming
    what is wrong."""
    found = _DURATION.fullmatch(text)
    if found is None or text in ("P", "PT"):
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration such as PT30M, PT2H, P1D or P1DT12H"
        )
    amounts = {name: int(value) for name, value in found.groupdict(default="0").items()}
    length = timedelta(**amounts)
    if not MIN_BEFORE_DUE <= length <= MAX_BEFORE_DUE:
        raise ValueError(f"{text!r} is not between 1 minute (PT1M) and 28 days (P28D)")
    return length


def duration_text(length: timedelta) -> str:
    """``length`` (whole minutes) as the shortest ISO 8601 duration: ``P1DT2H30M``."""
    minutes = int(length.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def at_text(local: datetime) -> str:
    """A local wall time to the minute, as ``at`` and occurrence keys write it:
    ``2026-03-30T08:00``, the year in four digits (``strftime`` writes 999 as ``999``)."""
    return local.isoformat(timespec="minutes")


def local_moment(text: str) -> datetime:
    """An ``at`` (``YYYY-MM-DDTHH:MM``) as a naive local wall time; ``ValueError``."""
    if not _AT.fullmatch(text):
        raise ValueError(f"{text!r} is not a local date and time such as 2026-03-30T08:00")
    try:
        return datetime.strptime(text, AT_FORMAT)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date and time") from None


def key_moment(key: str) -> datetime:
    """An occurrence key (``occurrence_key``) as the local wall time it names (a date's
    00:00); ``ValueError`` if it is not one."""
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", key):
        return datetime.combine(date.fromisoformat(key), time(0))
    return local_moment(key)
