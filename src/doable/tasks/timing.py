"""A task's time kept in step (docs/api.md, Time zones and recurrence): the columns a
write sets follow from one another here. ``settle`` checks a task's due date, time,
zone and recurrence together and adds its ``due_at`` and series anchor; ``roll`` moves a
recurring task on to its next occurrence (completed or skipped). The tasks service
calls them inside its units of work; nothing here reads or writes the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from doable.errors import Conflict, ProblemType, ValidationFailed
from doable.tasks import recurrence
from doable.tasks.models import Status
from doable.tasks.recurrence import InvalidRule, Recurrence

#: What a task's due moment and series follow from: a change to any of these is checked
#: again, and the ones ``_BY_HAND`` moves the series' anchor (its DTSTART).
_TIMING = ("due_date", "due_time", "timezone", "recurrence_rule", "recurrence_mode")
_BY_HAND = ("due_date", "due_time", "recurrence_rule", "recurrence_mode")
#: What a due date goes with: cleared with it, unless given again (then refused).
_NEEDS_DUE_DATE = {"due_time": "due_time", "recurrence_rule": "recurrence"}


def columns(fields: dict[str, Any]) -> dict[str, Any]:
    """The API's fields as the task's columns: ``recurrence`` as its rule and mode."""
    if "recurrence" in fields:
        given: Recurrence | None = fields.pop("recurrence")
        fields["recurrence_rule"] = None if given is None else given.rule
        fields["recurrence_mode"] = None if given is None else given.mode
    return fields


def effective_zone(task: Any, owner_zone: str) -> ZoneInfo:
    """The zone ``task``'s due date and time are in: its own, or else its owner's."""
    return recurrence.zone(task.timezone or owner_zone)


def settle(
    before: Any | None, fields: dict[str, Any], owner_zone: Callable[[], str]
) -> dict[str, Any]:
    """``fields``, the columns a write changes on ``before`` (``None``: a new task), with
    what follows from them: ``due_at``, and the series' anchor when the due date, time or
    rule is set by hand. A due date cleared takes its due time and recurrence with it.
    ``ValidationFailed`` naming each field that cannot be so. ``owner_zone()`` is asked
    only for a due task that names no zone of its own."""
    if not set(fields) & set(_TIMING):
        return fields
    if "due_date" in fields and fields["due_date"] is None:
        for name in _NEEDS_DUE_DATE:
            fields.setdefault(name, None)
        fields.setdefault("recurrence_mode", None)
    task = _Merged(before, fields)
    _check_needs_due_date(task, fields)
    if task.due_date is None:  # and so no recurrence either
        fields.update(due_at=None, recurrence_anchor=None)
        return fields
    tz = recurrence.zone(task.timezone or owner_zone())
    fields["due_at"] = _due_at(task, tz)
    if task.recurrence_rule is None:
        fields["recurrence_anchor"] = None
    else:
        moment = recurrence.due_moment(task.due_date, task.due_time)
        _check_rule(task.recurrence_rule, moment, tz)
        if before is None or set(fields) & set(_BY_HAND):
            fields["recurrence_anchor"] = moment
    return fields


class _Merged:
    """A task as ``fields`` would leave ``before``: each column read from one or the other."""

    def __init__(self, before: Any | None, fields: dict[str, Any]) -> None:
        self._before = before
        self._fields = fields

    def __getattr__(self, name: str) -> Any:
        if name in self._fields:
            return self._fields[name]
        return None if self._before is None else getattr(self._before, name)


def _check_needs_due_date(task: Any, fields: dict[str, Any]) -> None:
    if task.due_date is not None:
        return
    missing = {
        shown: [f"{shown} needs a due_date"]
        for name, shown in _NEEDS_DUE_DATE.items()
        if getattr(task, name) is not None
    }
    if missing:
        raise ValidationFailed(missing)


def _due_at(task: Any, tz: ZoneInfo) -> datetime:
    due_at = recurrence.instant_or_none(recurrence.due_moment(task.due_date, task.due_time), tz)
    if due_at is None or not recurrence.in_calendar(task.due_date):
        first, last = recurrence.FIRST_DAY.isoformat(), recurrence.LAST_DAY.isoformat()
        raise ValidationFailed({"due_date": [f"Must be between {first} and {last}"]})
    return due_at


def _check_rule(rule: str, moment: datetime, tz: ZoneInfo) -> None:
    try:
        recurrence.parse_rule(rule, moment, tz)
    except InvalidRule as invalid:
        raise ValidationFailed({"recurrence": [str(invalid)]}) from None


def current_key(task: Any) -> str | None:
    """The key of the task's current occurrence (``recurrence.occurrence_key``)."""
    if task.due_date is None:
        return None
    moment = recurrence.due_moment(task.due_date, task.due_time)
    return recurrence.occurrence_key(moment, timed=task.due_time is not None)


def already_done(task: Any, occurrence: str | None) -> bool:
    """Whether completing or skipping ``occurrence`` (a key; ``None``: the current one)
    of ``task`` is done already: an earlier occurrence, or the last one of an ended
    series. ``Conflict`` for one still to come; ``ValidationFailed`` for no key."""
    done = bool(task.status == Status.COMPLETED)
    if occurrence is None or task.due_date is None:
        return done
    try:
        asked = recurrence.key_moment(occurrence)
    except ValueError as invalid:
        raise ValidationFailed({"occurrence": [str(invalid)]}) from None
    current = recurrence.due_moment(task.due_date, task.due_time)
    if len(occurrence) == len("2026-03-30"):  # a day: that day's occurrence
        asked, current = asked.date(), current.date()  # type: ignore[assignment]
    if asked > current:
        raise Conflict(
            f"Occurrence {occurrence} is not due yet: the current one is {current_key(task)}",
            problem_type=ProblemType.OCCURRENCE_NOT_DUE,
        )
    return bool(done or asked < current)


@dataclass(frozen=True)
class Rolled:
    """A recurring task moved on: the key of the occurrence ``done``, the ``next`` one's
    (``None``: the series ended, and the task is completed), and the columns to write."""

    done: str
    next: str | None
    fields: dict[str, Any]


def roll(task: Any, owner_zone: str, *, skip: bool, now: datetime) -> Rolled:
    """Complete (or ``skip``) the current occurrence of recurring ``task`` at ``now``:
    its due date and time move to the next occurrence and it is pending again."""
    tz = effective_zone(task, owner_zone)
    current = recurrence.due_moment(task.due_date, task.due_time)
    timed = task.due_time is not None
    found = _next(task, tz, current, recurrence.local_time(now, tz), skip=skip)
    if found is not None and not recurrence.in_calendar(found.date()):
        found = None  # past the last day a task may be due: the series has ended
    due_at = None if found is None else recurrence.instant_or_none(found, tz)
    done = recurrence.occurrence_key(current, timed)
    if found is None or due_at is None:
        return Rolled(done, None, {"status": Status.COMPLETED.value})
    fields = {
        "due_date": found.date(),
        "due_time": found.time() if timed else None,
        "due_at": due_at,
        "status": Status.PENDING.value,
    }
    return Rolled(done, recurrence.occurrence_key(found, timed), fields)


def _next(
    task: Any, tz: ZoneInfo, current: datetime, now: datetime, *, skip: bool
) -> datetime | None:
    """The occurrence after ``current`` (``now``: the local moment it was done)."""
    repeat = Recurrence(task.recurrence_rule, task.recurrence_mode or "schedule")
    anchor = task.recurrence_anchor or current
    timed = task.due_time is not None
    try:
        if skip:
            return recurrence.skip_due(repeat, anchor=anchor, current=current, tz=tz)
        return recurrence.next_due(
            repeat,
            anchor=anchor,
            current=current,
            completed_on=now.date(),
            tz=tz,
            not_before=now if timed else None,
        )
    except (ValueError, OverflowError):  # past the year 9999
        return None


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a series: its key, local wall time (naive) and instant (UTC)."""

    key: str
    local: datetime
    utc: datetime


def occurrences(task: Any, tz: ZoneInfo, start: datetime) -> Iterator[datetime]:
    """The task's occurrences (naive local) at or after ``start``, read lazily: its
    current one first, as RFC 5545's DTSTART, whether or not the rule gives it; then the
    rule's. ``after_completion``: as if each were completed on its day. A series past
    the year 9999 raises ``ValueError`` or ``OverflowError`` once it gets there."""
    current = recurrence.due_moment(task.due_date, task.due_time)
    if current >= start:
        yield current
    if not task.recurrence_rule:
        return
    anchor = current
    if task.recurrence_mode != "after_completion":
        anchor = task.recurrence_anchor or current
    rule = recurrence.series(task.recurrence_rule, anchor, tz)
    for local in rule.xafter(max(start, current), inc=True):
        if local != current:
            yield local


def upcoming(task: Any, owner_zone: str, limit: int) -> list[Occurrence]:
    """The task's occurrences from its current one on, at most ``limit``: none once its
    series has ended (``occurrences``)."""
    if task.due_date is None or task.status == Status.COMPLETED:
        return []
    tz = effective_zone(task, owner_zone)
    current = recurrence.due_moment(task.due_date, task.due_time)
    timed = task.due_time is not None
    found: list[Occurrence] = []
    try:
        for local in islice(occurrences(task, tz, current), limit):
            utc = recurrence.instant_or_none(local, tz)
            if utc is None or not recurrence.in_calendar(local.date()):
                break
            found.append(Occurrence(recurrence.occurrence_key(local, timed), local, utc))
    except (ValueError, OverflowError):  # past the year 9999
        pass
    return found
