"""A task's time fields on the wire (docs/api.md, Time zones and recurrence): each one
parsed strictly and normalised, so equal values compare equal and a body's bytes (its
ETag) do not depend on how a client spelled them. What depends on the rest of the task
(a due time needs a due date, a rule must occur from it) is ``tasks.timing``'s."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from marshmallow import ValidationError, fields

from doable.settings import settings
from doable.tasks import recurrence
from doable.tasks.recurrence import InvalidRule, Recurrence

_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
#: The forms ``recurrence.duration`` and ``recurrence.local_moment`` take, for the
#: OpenAPI document (the range, 1 minute to 28 days, and real dates are checked too).
_DURATION_PATTERN = r"^P(?!$)([0-9]{1,2}W)?([0-9]{1,2}D)?(T(?=[0-9])([0-9]{1,3}H)?([0-9]{1,5}M)?)?$"
DAY_PATTERN = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
CLOCK_PATTERN = r"([01][0-9]|2[0-3]):[0-5][0-9]"
_AT_PATTERN = rf"^{DAY_PATTERN}T{CLOCK_PATTERN}$"


def clock(value: time | None) -> str | None:
    """A time of day as the API writes it: ``09:30``."""
    return None if value is None else value.strftime("%H:%M")


class LocalTime(fields.Field[time]):
    """A local time of day, ``HH:MM`` (24-hour)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "pattern": f"^{CLOCK_PATTERN}$",
            "example": "09:30",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return clock(value)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> time:
        found = _CLOCK.fullmatch(value) if isinstance(value, str) else None
        if found is None:
            raise ValidationError("Must be a time of day as HH:MM (24-hour), e.g. 09:30.")
        return time(int(found[1]), int(found[2]))


class ZoneName(fields.String):
    """An IANA time zone name (``recurrence.ZONES``)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"example": "Europe/Berlin", "maxLength": 64, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if name not in recurrence.ZONES:
            raise ValidationError("Must be an IANA time zone name such as Europe/Berlin.")
        return name


class RecurrenceField(fields.Field[Recurrence]):
    """``{"rule": "FREQ=WEEKLY;BYDAY=MO", "mode": "schedule" | "after_completion"}``: the
    rule normalised (``recurrence.parse_rule``), the mode ``schedule`` if not given."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "object",
            "properties": {
                "rule": {
                    "type": "string",
                    "maxLength": recurrence.MAX_RULE_LENGTH,
                    "example": "FREQ=WEEKLY;BYDAY=MO,WE,FR",
                },
                "mode": {"type": "string", "enum": list(recurrence.MODES)},
            },
            "required": ["rule"],
            "additionalProperties": False,
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return shown_recurrence(obj)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Recurrence:
        if not isinstance(value, dict) or not set(value) <= {"rule", "mode"}:
            raise ValidationError('Must be {"rule": "FREQ=...", "mode": "schedule"} or null.')
        rule, mode = value.get("rule"), value.get("mode", "schedule")
        if not isinstance(rule, str) or not isinstance(mode, str):
            raise ValidationError("rule and mode must be strings.")
        try:
            return Recurrence(recurrence.parse_rule(rule), mode)
        except InvalidRule as invalid:
            raise ValidationError(str(invalid)) from None


def shown_recurrence(task: Any) -> dict[str, str] | None:
    """A task's ``recurrence`` as the API shows it."""
    if task.recurrence_rule is None:
        return None
    return {"rule": task.recurrence_rule, "mode": task.recurrence_mode or "schedule"}


class Reminder(fields.Field[dict[str, str]]):
    """``{"before_due": "PT30M"}`` or ``{"at": "2026-03-30T08:00"}``, normalised."""

    def __init__(self, **kwargs: Any) -> None:
        before_due = {"type": "string", "pattern": _DURATION_PATTERN, "example": "PT30M"}
        at = {"type": "string", "pattern": _AT_PATTERN, "example": "2026-03-30T08:00"}
        metadata = {
            "type": "object",
            "oneOf": [
                _one_member("before_due", before_due),
                _one_member("at", at),
            ],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, str]:
        if not isinstance(value, dict) or len(value) != 1:
            raise ValidationError('Must be {"before_due": "PT30M"} or {"at": "2026-03-30T08:00"}.')
        ((kind, text),) = value.items()
        if kind not in ("before_due", "at") or not isinstance(text, str):
            raise ValidationError('Must be {"before_due": "PT30M"} or {"at": "2026-03-30T08:00"}.')
        try:
            if kind == "before_due":
                return {kind: recurrence.duration_text(recurrence.duration(text))}
            return {kind: recurrence.at_text(recurrence.local_moment(text))}
        except ValueError as invalid:
            raise ValidationError(str(invalid)) from None


def _one_member(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: schema},
        "required": [name],
        "additionalProperties": False,
    }


class Reminders(fields.List[dict[str, str]]):
    """A task's reminders: each once, at most ``max_reminders_per_task`` of them."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "description": "At most `max_reminders_per_task` (5 by default), no two alike",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(Reminder(), metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return list(value or [])

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        limit = settings().max_reminders_per_task
        if isinstance(value, list) and len(value) > limit:
            raise ValidationError(f"At most {limit} reminders per task.")
        reminders = super()._deserialize(value, attr, data, **kwargs) or []
        if len({tuple((reminder or {}).items()) for reminder in reminders}) != len(reminders):
            raise ValidationError("The same reminder is given twice.")
        return reminders
