"""Quick add: one line such as ``Pay rent tomorrow 9am #home !high`` read as a task.

``parse`` is the one reader, shared by ``POST /api/tasks/parse`` and the list page's
quick add. It reads the line as words between spaces (``#"two words"`` is one word) and
recognises, among them, a due date, a due time, categories and a priority (the grammar
is docs/api.md, "Quick add"). A word is only ever read whole: ``Friday's`` or
``tomorrow,`` stay in the title, and so does a month name without a day number next to
it (``may``, ``march``). The first date, the first time and the first priority win;
whatever is not recognised stays in the title, in order, joined by single spaces.

Dates are relative to ``today``, the user's today (``recurrence.today_in`` of their
zone), so the caller decides the zone; nothing here reads a clock.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from marshmallow import ValidationError

from doable.schemas import CATEGORY_NAME
from doable.tasks import recurrence
from doable.tasks.models import Priority

#: The longest line read (the API refuses longer ones).
MAX_TEXT = 500
#: "tonight" is today at this time, unless the line gives a time.
TONIGHT = time(19, 0)
#: ``in N days``: N at most this (about 27 years of days).
MAX_AMOUNT = 9999

WEEKDAYS = {
    **dict.fromkeys(["monday", "mon"], 0),
    **dict.fromkeys(["tuesday", "tue", "tues"], 1),
    **dict.fromkeys(["wednesday", "wed"], 2),
    **dict.fromkeys(["thursday", "thu", "thur", "thurs"], 3),
    **dict.fromkeys(["friday", "fri"], 4),
    # "sat" and "sun" are words of their own ("enjoy the sun"): only the full names
    "saturday": 5,
    "sunday": 6,
}
MONTHS = {
    name: number
    for number in range(1, 13)
    for name in {calendar.month_name[number].lower(), calendar.month_abbr[number].lower()}
} | {"sept": 9}
PRIORITIES = {
    **{f"!{p.label}": p for p in Priority},
    "!med": Priority.MEDIUM,
    "!1": Priority.HIGH,
    "!2": Priority.MEDIUM,
    "!3": Priority.LOW,
    "!!!": Priority.HIGH,
    "!!": Priority.MEDIUM,
}
UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 0, "months": 0}

_WORD = re.compile(r'#"[^"]*"[,.;:!?]*|\S+')
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DAY = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?")
_YEAR = re.compile(r"\d{4}")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_TWELVE = re.compile(r"(1[0-2]|0?[1-9])(?::([0-5]\d))?(am|pm)")
_HOUR = re.compile(r"[01]?\d|2[0-3]")
#: A category word; punctuation ending it (``#home,``) ends the sentence, not the name.
_CATEGORY = re.compile(r'#(?:"([^"]*)"|([^\W\d]\S*?))[,.;:!?]*')


@dataclass(frozen=True)
class Part:
    """A recognised piece of the line: its kind (``date``, ``time``, ``category``,
    ``priority``), the exact text, where it is (``text[start:end]``) and what it means
    (an ISO date, ``HH:MM``, a category name, a priority label)."""

    kind: str
    text: str
    start: int
    end: int
    value: str


@dataclass(frozen=True)
class QuickTask:
    title: str
    due_date: date | None = None
    due_time: time | None = None
    categories: list[str] = field(default_factory=list)
    priority: Priority | None = None
    parts: list[Part] = field(default_factory=list)


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


#: A reader of the words from a position: how many words it took and what they mean.
_Found = tuple[int, object] | None
_Reader = Callable[[Sequence[_Word], date], _Found]


def parse(text: str, *, today: date) -> QuickTask:
    """``text`` read as a task, its dates reckoned from ``today`` (the user's today)."""
    words = [_Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
    found: dict[str, object] = {}
    categories: list[str] = []
    parts: list[Part] = []
    title: list[str] = []
    at = 0
    while at < len(words):
        for kind, read in _READERS:
            if kind in found and kind != "category":
                continue
            hit = read(words[at:], today)
            if hit is None:
                continue
            taken, value = hit
            if kind == "category":  # a repeat (ignoring case) is read, and dropped
                if str(value).casefold() not in {c.casefold() for c in categories}:
                    categories.append(str(value))
            else:
                found[kind] = value
            first, last = words[at], words[at + taken - 1]
            parts.append(
                Part(kind, text[first.start : last.end], first.start, last.end, _shown(value))
            )
            at += taken
            break
        else:
            title.append(words[at].text)
            at += 1
    return _task(" ".join(title), found, categories, parts, today)


def _task(
    title: str, found: dict[str, object], categories: list[str], parts: list[Part], today: date
) -> QuickTask:
    """The task of what was found: "tonight" gives 19:00 unless a time was given; a
    time without a date is today's."""
    due_date, due_time = found.get("date"), found.get("time")
    if isinstance(due_date, _Tonight):
        due_time = due_time or TONIGHT
        due_date = due_date.day
    if due_time is not None and due_date is None:
        due_date = today
    priority = found.get("priority")
    return QuickTask(
        title=title,
        due_date=due_date if isinstance(due_date, date) else None,
        due_time=due_time if isinstance(due_time, time) else None,
        categories=categories,
        priority=priority if isinstance(priority, Priority) else None,
        parts=parts,
    )


@dataclass(frozen=True)
class _Tonight:
    day: date


def _shown(value: object) -> str:
    if isinstance(value, _Tonight):
        return value.day.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Priority):
        return value.label
    return str(value)


# --- dates -----------------------------------------------------------------------------


def _date(words: Sequence[_Word], today: date) -> _Found:
    """A date, with an optional ``on`` before it (``on friday``, ``on 12 March``), within
    the days a task may be due on (``recurrence.in_calendar``): a date past them stays
    in the title, as task creation would refuse it."""
    try:
        if words and words[0].lower == "on":
            hit = _bare_date(words[1:], today)
            hit = None if hit is None else (hit[0] + 1, hit[1])
        else:
            hit = _bare_date(words, today)
    except OverflowError:  # past the year 9999 ("next week" in its last days)
        return None
    if hit is None:
        return None
    day = hit[1].day if isinstance(hit[1], _Tonight) else hit[1]
    return hit if isinstance(day, date) and recurrence.in_calendar(day) else None


def _bare_date(words: Sequence[_Word], today: date) -> _Found:
    for read in (_named_day, _weekday, _relative, _iso, _day_month, _month_day):
        hit = read(words, today)
        if hit is not None:
            return hit
    return None


def _named_day(words: Sequence[_Word], today: date) -> _Found:
    lower = [w.lower for w in words[:4]]
    if lower[:1] == ["today"]:
        return 1, today
    if lower[:1] == ["tonight"]:
        return 1, _Tonight(today)
    if lower[:1] == ["tomorrow"]:
        return 1, today + timedelta(days=1)
    if lower[:2] == ["next", "week"]:
        return 2, today + timedelta(days=7 - today.weekday())
    if lower[:2] == ["next", "month"]:
        return 2, _months_on(today.replace(day=1), 1)
    if lower[:3] == ["end", "of", "month"] or lower[:4] == ["end", "of", "the", "month"]:
        last = calendar.monthrange(today.year, today.month)[1]
        return (3 if lower[2] == "month" else 4), today.replace(day=last)
    return None


def _weekday(words: Sequence[_Word], today: date) -> _Found:
    """``friday``/``this friday``: the coming Friday (today on a Friday); ``next friday``:
    the Friday of next week (weeks start on Monday)."""
    lower = [w.lower for w in words[:2]]
    if len(lower) == 2 and lower[0] in ("this", "next") and lower[1] in WEEKDAYS:
        day = WEEKDAYS[lower[1]]
        if lower[0] == "this":
            return 2, today + timedelta(days=(day - today.weekday()) % 7)
        monday = today + timedelta(days=7 - today.weekday())
        return 2, monday + timedelta(days=day)
    if lower and lower[0] in WEEKDAYS:
        return 1, today + timedelta(days=(WEEKDAYS[lower[0]] - today.weekday()) % 7)
    return None


def _relative(words: Sequence[_Word], today: date) -> _Found:
    """``in 3 days``, ``in a week``, ``in 2 months`` (the same day of the month, or the
    month's last day when it has no such day)."""
    lower = [w.lower for w in words[:3]]
    if len(lower) < 3 or lower[0] != "in" or lower[2] not in UNITS:
        return None
    amount = 1 if lower[1] in ("a", "an", "one") else _number(lower[1])
    if amount is None or amount > MAX_AMOUNT:
        return None
    try:
        if UNITS[lower[2]] == 0:
            return 3, _months_on(today, amount)
        return 3, today + timedelta(days=amount * UNITS[lower[2]])
    except (ValueError, OverflowError):  # past the year 9999
        return None


def _number(word: str) -> int | None:
    return int(word) if word.isascii() and word.isdigit() and len(word) <= 4 else None


def _months_on(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _iso(words: Sequence[_Word], today: date) -> _Found:
    match = _ISO_DATE.fullmatch(words[0].text) if words else None
    if match is None:
        return None
    try:
        return 1, date(*(int(g) for g in match.groups()))
    except ValueError:  # 2026-02-30
        return None


def _day_month(words: Sequence[_Word], today: date) -> _Found:
    """``12 March``, ``12th mar``, ``12 March 2027``."""
    if len(words) < 2:
        return None
    day = _DAY.fullmatch(words[0].lower)
    month = MONTHS.get(words[1].lower)
    if day is None or month is None:
        return None
    return _on(today, month, int(day.group(1)), words[2:], 2)


def _month_day(words: Sequence[_Word], today: date) -> _Found:
    """``March 12``, ``mar 12th``, ``March 12 2027``, ``March 12, 2027``."""
    if len(words) < 2:
        return None
    month = MONTHS.get(words[0].lower)
    day_word = words[1].lower
    with_year = len(words) > 2 and _YEAR.fullmatch(words[2].text) is not None
    if with_year and day_word.endswith(","):
        day_word = day_word[:-1]
    day = _DAY.fullmatch(day_word)
    if day is None or month is None:
        return None
    return _on(today, month, int(day.group(1)), words[2:], 2)


def _on(today: date, month: int, day: int, rest: Sequence[_Word], taken: int) -> _Found:
    """The day of the month in the year that follows it (``rest`` starting with a year),
    or else the first such day on or after today (``jan 5`` in December: next January;
    ``feb 29``: the next leap year's)."""
    if rest and _YEAR.fullmatch(rest[0].text):
        try:
            return taken + 1, date(int(rest[0].text), month, day)
        except ValueError:
            return None
    for year in range(today.year, min(today.year + 9, 10000)):
        try:
            found = date(year, month, day)
        except ValueError:  # 30 February, 29 February out of a leap year
            continue
        if found >= today:
            return taken, found
    return None


# --- times, priority, categories -------------------------------------------------------


def _time(words: Sequence[_Word], today: date) -> _Found:
    """A time, with an optional ``at`` before it; after ``at``, a bare hour (``at 9``)."""
    if words and words[0].lower == "at":
        rest = words[1:]
        hit = _bare_time(rest)
        if hit is None and rest and _HOUR.fullmatch(rest[0].text):
            hit = 1, time(int(rest[0].text))
        return None if hit is None else (hit[0] + 1, hit[1])
    return _bare_time(words)


def _bare_time(words: Sequence[_Word]) -> _Found:
    if not words:
        return None
    first = words[0].lower
    named = {"noon": time(12), "midday": time(12), "midnight": time(0)}
    if first in named:
        return 1, named[first]
    # "7:30 pm" is a 12-hour time before "7:30" is a 24-hour one
    twelve, taken = None, 1
    if len(words) > 1 and words[1].lower in ("am", "pm"):
        twelve, taken = _TWELVE.fullmatch(first + words[1].lower), 2
    if twelve is None:
        clock = _CLOCK.fullmatch(first)
        if clock:
            return 1, time(int(clock.group(1)), int(clock.group(2)))
        twelve, taken = _TWELVE.fullmatch(first), 1
    if twelve is None:
        return None
    hour = int(twelve.group(1)) % 12 + (12 if twelve.group(3) == "pm" else 0)
    return taken, time(hour, int(twelve.group(2) or 0))


def _priority(words: Sequence[_Word], today: date) -> _Found:
    found = PRIORITIES.get(words[0].lower) if words else None
    return None if found is None else (1, found)


def _category(words: Sequence[_Word], today: date) -> _Found:
    """``#home``, ``#"two words"``: a name by the category rules, not starting with a
    digit (``#42`` stays in the title: an issue number more likely than a category).
    Trailing ``,.;:!?`` are the sentence's (``#home, #work.``): read with the word, not
    part of the name, and not left in the title."""
    match = _CATEGORY.fullmatch(words[0].text) if words else None
    if match is None:
        return None
    name = match.group(1) if match.group(1) is not None else match.group(2)
    try:
        for rule in CATEGORY_NAME:
            rule(name)
    except ValidationError:
        return None
    return 1, name.strip()


_READERS: list[tuple[str, _Reader]] = [
    ("date", _date),
    ("time", _time),
    ("priority", _priority),
    ("category", _category),
]
