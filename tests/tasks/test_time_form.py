"""The task form's repeat presets and reminder rows, and the API values they stand for
(doable.tasks.time_form), both ways."""

from __future__ import annotations

from datetime import date

import pytest

from doable.tasks import time_form

MONDAY_31 = date(2025, 3, 31)


@pytest.mark.parametrize(
    ("preset", "rule"),
    [
        ("", None),
        ("daily", "FREQ=DAILY"),
        ("weekdays", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
        ("weekly", "FREQ=WEEKLY;BYDAY=MO"),
        ("monthly", "FREQ=MONTHLY;BYMONTHDAY=31"),
        ("yearly", "FREQ=YEARLY"),
        ("custom", "FREQ=MONTHLY;BYDAY=2TU"),
    ],
)
def test_preset_rule_and_back(preset: str, rule: str | None) -> None:
    assert time_form.preset_rule(preset, MONDAY_31, " FREQ=MONTHLY;BYDAY=2TU ") == rule
    assert time_form.preset_of(rule, MONDAY_31) == (
        (preset, "FREQ=MONTHLY;BYDAY=2TU" if preset == "custom" else "")
    )


def test_a_weekly_rule_on_another_day_reads_as_custom() -> None:
    assert time_form.preset_of("FREQ=WEEKLY;BYDAY=TU", MONDAY_31) == (
        "custom",
        "FREQ=WEEKLY;BYDAY=TU",
    )


def test_weekly_without_a_due_date_leaves_the_day_out_for_the_api_to_refuse() -> None:
    assert time_form.preset_rule("weekly", None, "") == "FREQ=WEEKLY"


def test_recurrence_carries_the_mode() -> None:
    assert time_form.recurrence("daily", None, "", "after_completion") == {
        "rule": "FREQ=DAILY",
        "mode": "after_completion",
    }
    assert time_form.recurrence("", None, "", "schedule") is None


@pytest.mark.parametrize(
    ("row", "spec"),
    [
        (("before", "30", "minutes", ""), {"before_due": "PT30M"}),
        (("before", "2", "hours", ""), {"before_due": "PT2H"}),
        (("before", "1", "days", ""), {"before_due": "P1D"}),
        (("at", "", "minutes", " 2026-03-30T08:00 "), {"at": "2026-03-30T08:00"}),
        (("", "30", "minutes", ""), None),
    ],
)
def test_reminder_row_as_the_api_reads_it(row: tuple[str, str, str, str], spec: object) -> None:
    assert time_form.reminder(*row) == spec


@pytest.mark.parametrize(
    ("spec", "amount", "unit"),
    [
        ("PT30M", "30", "minutes"),
        ("PT90M", "90", "minutes"),
        ("PT2H", "2", "hours"),
        ("PT120M", "2", "hours"),
        ("P1D", "1", "days"),
        ("P1W", "7", "days"),
        ("P1DT1H", "25", "hours"),
        ("PT0M", "0", "minutes"),
    ],
)
def test_a_saved_reminder_as_the_row_shows_it(spec: str, amount: str, unit: str) -> None:
    row = time_form.reminder_row({"before_due": spec})
    assert (row["kind"], row["amount"], row["unit"]) == ("before", amount, unit)


def test_an_at_reminder_as_the_row_shows_it() -> None:
    assert time_form.reminder_row({"at": "2026-03-30T08:00"})["at"] == "2026-03-30T08:00"
