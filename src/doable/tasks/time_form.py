"""The task form's time fields as a person picks them (a repeat preset, reminder rows of
"30 minutes before" or "at <local date and time>") and the API's ``recurrence`` and
``reminders`` they stand for (docs/api.md, Time zones and recurrence), both ways. The
API's schemas judge the result, so the page says what the API would."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

#: (value, label) of the repeat drop-down; ``custom`` takes the rule as typed.
PRESETS = [
    ("", "Does not repeat"),
    ("daily", "Every day"),
    ("weekdays", "Every weekday (Monday to Friday)"),
    ("weekly", "Every week, on the due date's weekday"),
    ("monthly", "Every month, on the due date's day"),
    ("yearly", "Every year, on the due date"),
    ("custom", "Custom rule (RRULE)"),
]
MODES = [
    ("schedule", "On schedule"),
    ("after_completion", "Counting from the day it is done"),
]
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Minutes in each unit a reminder row offers, largest first.
UNITS = {"days": 24 * 60, "hours": 60, "minutes": 1}
_DURATION = re.compile(r"P(?:([0-9]+)W)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?)?")


def preset_rule(preset: str, due: date | None, custom: str) -> str | None:
    """The RRULE a preset stands for, anchored on the due date (a weekly or monthly one
    with no due date repeats without a day: the API then says the date is needed)."""
    weekly = f"FREQ=WEEKLY;BYDAY={WEEKDAYS[due.weekday()]}" if due else "FREQ=WEEKLY"
    monthly = f"FREQ=MONTHLY;BYMONTHDAY={due.day}" if due else "FREQ=MONTHLY"
    rules = {
        "": None,
        "daily": "FREQ=DAILY",
        "weekdays": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        "weekly": weekly,
        "monthly": monthly,
        "yearly": "FREQ=YEARLY",
    }
    return rules[preset] if preset in rules else custom.strip()


def preset_of(rule: str | None, due: date | None) -> tuple[str, str]:
    """The preset a stored rule reads as, and the custom text (the rule when no preset
    says it)."""
    if rule is None:
        return "", ""
    for preset, _ in PRESETS[1:-1]:
        if preset_rule(preset, due, "") == rule:
            return preset, ""
    return "custom", rule


def recurrence(preset: str, due: date | None, custom: str, mode: str) -> Any:
    """The API's ``recurrence`` for the form's choice (``None``: does not repeat)."""
    rule = preset_rule(preset, due, custom)
    return None if rule is None else {"rule": rule, "mode": mode or "schedule"}


def reminder(kind: str, amount: str, unit: str, at: str) -> dict[str, str] | None:
    """One row as the API's reminder; ``None`` for a row left empty. Whatever was
    typed goes through, for the API's schema to judge."""
    if kind == "before":
        number = amount.strip()
        return {"before_due": f"P{number}D" if unit == "days" else f"PT{number}{unit[:1].upper()}"}
    if kind == "at":
        return {"at": at.strip()}
    return None


def reminder_row(spec: dict[str, str]) -> dict[str, str]:
    """A reminder as the form's row shows it: ``PT90M`` -> 90 minutes, ``P1D`` -> 1 day."""
    if "at" in spec:
        return {"kind": "at", "amount": "", "unit": "minutes", "at": spec["at"]}
    found = _DURATION.fullmatch(spec.get("before_due", ""))
    weeks, days, hours, minutes = (int(part or 0) for part in found.groups()) if found else (0,) * 4
    total = ((weeks * 7 + days) * 24 + hours) * 60 + minutes
    unit = next((name for name, size in UNITS.items() if total and total % size == 0), "minutes")
    return {"kind": "before", "amount": str(total // UNITS[unit]), "unit": unit, "at": ""}
