"""Quick add's reader (tasks/quick_add.py, docs/api.md "Quick add"): the table of
phrases, and the parts it reports."""

from __future__ import annotations

from datetime import date, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from doable.tasks.models import Priority
from doable.tasks.quick_add import Part, parse

WED = date(2026, 3, 11)  # a Wednesday
FRI = date(2026, 3, 13)
SUN = date(2026, 3, 15)
NEW_YEARS_EVE_EVE = date(2026, 12, 30)
JAN_31 = date(2026, 1, 31)
LEAP_FEB = date(2028, 2, 27)
LATE = date(9999, 12, 28)  # the day before recurrence.LAST_DAY
HIGH, MEDIUM, LOW = Priority.HIGH, Priority.MEDIUM, Priority.LOW

Row = tuple[str, date, str, date | None, time | None, list[str], Priority | None]
TABLE: list[Row] = [
    # the examples
    (
        "Pay rent tomorrow 9am #home !high",
        WED,
        "Pay rent",
        date(2026, 3, 12),
        time(9),
        ["home"],
        HIGH,
    ),
    ("Call Sam next friday", WED, "Call Sam", date(2026, 3, 20), None, [], None),
    # named days
    ("Buy milk today", WED, "Buy milk", WED, None, [], None),
    ("Buy milk TOMORROW", WED, "Buy milk", date(2026, 3, 12), None, [], None),
    ("Party tonight", WED, "Party", WED, time(19), [], None),
    ("Party tonight 22:00", WED, "Party", WED, time(22), [], None),
    ("Game tonight at 8pm", WED, "Game", WED, time(20), [], None),
    # weekdays: the coming one, today included; "next": in next week (from Monday)
    ("Call Sam friday", WED, "Call Sam", FRI, None, [], None),
    ("Call Sam fri", WED, "Call Sam", FRI, None, [], None),
    ("Call Sam this friday", WED, "Call Sam", FRI, None, [], None),
    ("Water plants wednesday", WED, "Water plants", WED, None, [], None),
    ("Water plants wed", WED, "Water plants", WED, None, [], None),
    ("Water plants next wednesday", WED, "Water plants", date(2026, 3, 18), None, [], None),
    ("Report monday", WED, "Report", date(2026, 3, 16), None, [], None),
    ("Report next monday", WED, "Report", date(2026, 3, 16), None, [], None),
    ("Report on thursday", WED, "Report", date(2026, 3, 12), None, [], None),
    ("Report tues", WED, "Report", date(2026, 3, 17), None, [], None),
    ("Lunch friday", FRI, "Lunch", FRI, None, [], None),
    ("Lunch next friday", FRI, "Lunch", date(2026, 3, 20), None, [], None),
    ("Hike saturday", SUN, "Hike", date(2026, 3, 21), None, [], None),
    ("Plan next monday", SUN, "Plan", date(2026, 3, 16), None, [], None),
    ("Plan next week", SUN, "Plan", date(2026, 3, 16), None, [], None),
    ("Plan next week", WED, "Plan", date(2026, 3, 16), None, [], None),
    ("Gym sat", WED, "Gym sat", None, None, [], None),
    ("Enjoy the sun", WED, "Enjoy the sun", None, None, [], None),
    # relative
    ("Trip in 3 days", WED, "Trip", date(2026, 3, 14), None, [], None),
    ("Trip in 1 day", WED, "Trip", date(2026, 3, 12), None, [], None),
    ("Trip in 2 weeks", WED, "Trip", date(2026, 3, 25), None, [], None),
    ("Trip in a week", WED, "Trip", date(2026, 3, 18), None, [], None),
    ("Renew in 1 month", JAN_31, "Renew", date(2026, 2, 28), None, [], None),
    ("Renew in 13 months", WED, "Renew", date(2027, 4, 11), None, [], None),
    ("Trip in three days", WED, "Trip in three days", None, None, [], None),
    ("Invoice end of month", WED, "Invoice", date(2026, 3, 31), None, [], None),
    ("Invoice end of the month", LEAP_FEB, "Invoice", date(2028, 2, 29), None, [], None),
    ("Budget next month", NEW_YEARS_EVE_EVE, "Budget", date(2027, 1, 1), None, [], None),
    # days of the month: this year's, or next year's once passed
    ("Dentist on 12 March", WED, "Dentist", date(2026, 3, 12), None, [], None),
    ("Dentist 12 mar", WED, "Dentist", date(2026, 3, 12), None, [], None),
    ("Dentist March 12", WED, "Dentist", date(2026, 3, 12), None, [], None),
    ("Dentist mar 12th", WED, "Dentist", date(2026, 3, 12), None, [], None),
    ("Dentist March 10", WED, "Dentist", date(2027, 3, 10), None, [], None),
    ("Dentist March 11", WED, "Dentist", WED, None, [], None),
    ("jan 5 party", NEW_YEARS_EVE_EVE, "party", date(2027, 1, 5), None, [], None),
    ("Dec 31 party", NEW_YEARS_EVE_EVE, "party", date(2026, 12, 31), None, [], None),
    ("Leap feb 29", WED, "Leap", date(2028, 2, 29), None, [], None),
    ("Leap feb 29 2028", WED, "Leap", date(2028, 2, 29), None, [], None),
    ("Leap feb 29 2027", WED, "Leap feb 29 2027", None, None, [], None),
    ("Review March 12, 2027", WED, "Review", date(2027, 3, 12), None, [], None),
    ("Review 12 March 2027", WED, "Review", date(2027, 3, 12), None, [], None),
    ("2026-04-01 release", WED, "release", date(2026, 4, 1), None, [], None),
    ("2026-02-30 release", WED, "2026-02-30 release", None, None, [], None),
    ("12/3 meeting", WED, "12/3 meeting", None, None, [], None),
    ("31 april", WED, "31 april", None, None, [], None),
    ("May 4 talk", WED, "talk", date(2026, 5, 4), None, [], None),
    ("may the force", WED, "may the force", None, None, [], None),
    ("Read march", WED, "Read march", None, None, [], None),
    # times: a time alone is today's
    ("Standup 9:30am", WED, "Standup", WED, time(9, 30), [], None),
    ("Call 9:30pm tomorrow", WED, "Call", date(2026, 3, 12), time(21, 30), [], None),
    ("Meet at 14:00", WED, "Meet", WED, time(14), [], None),
    ("Meet at 9", WED, "Meet", WED, time(9), [], None),
    ("Meet 9 pm", WED, "Meet", WED, time(21), [], None),
    ("Lunch noon", WED, "Lunch", WED, time(12), [], None),
    ("Deploy midnight friday", WED, "Deploy", FRI, time(0), [], None),
    ("Wake 12am", WED, "Wake", WED, time(0), [], None),
    ("Eat 12pm", WED, "Eat", WED, time(12), [], None),
    ("Dinner 7:30 pm", WED, "Dinner", WED, time(19, 30), [], None),
    ("x 9:30 pm", WED, "x", WED, time(21, 30), [], None),
    ("Call 9:30 AM friday", WED, "Call", FRI, time(9, 30), [], None),
    ("Sleep 12 am", WED, "Sleep", WED, time(0), [], None),
    ("Lunch 12 pm", WED, "Lunch", WED, time(12), [], None),
    ("Meet at 7:30 pm", WED, "Meet", WED, time(19, 30), [], None),
    ("Bake 13:30 pm", WED, "Bake pm", WED, time(13, 30), [], None),
    ("Bake 13pm", WED, "Bake 13pm", None, None, [], None),
    ("Bake 25:00", WED, "Bake 25:00", None, None, [], None),
    ("Meet at the office", WED, "Meet at the office", None, None, [], None),
    ("Work on report", WED, "Work on report", None, None, [], None),
    # only days a task may be due on (recurrence.LAST_DAY is 9999-12-29): others stay
    ("End dec 31 9999", WED, "End dec 31 9999", None, None, [], None),
    ("End 9999-12-30", WED, "End 9999-12-30", None, None, [], None),
    ("End 9999-12-29", WED, "End", date(9999, 12, 29), None, [], None),
    ("End on dec 30", LATE, "End on dec 30", None, None, [], None),
    ("End in 3 days", LATE, "End in 3 days", None, None, [], None),
    ("End in 1 day", LATE, "End", date(9999, 12, 29), None, [], None),
    ("End in 999999 days", WED, "End in 999999 days", None, None, [], None),
    ("End next week", LATE, "End next week", None, None, [], None),
    ("End end of month", LATE, "End end of month", None, None, [], None),
    ("End 1st jan 0001", WED, "End 1st jan 0001", None, None, [], None),
    # the first of each kind wins; the rest stays in the title
    ("meet 9am 10am", WED, "meet 10am", WED, time(9), [], None),
    ("tomorrow friday", WED, "friday", date(2026, 3, 12), None, [], None),
    ("Task !high !low", WED, "Task !low", None, None, [], HIGH),
    # priorities
    ("Task !low", WED, "Task", None, None, [], LOW),
    ("Task !medium", WED, "Task", None, None, [], MEDIUM),
    ("Task !med", WED, "Task", None, None, [], MEDIUM),
    ("Task !HIGH", WED, "Task", None, None, [], HIGH),
    ("Task !1", WED, "Task", None, None, [], HIGH),
    ("Task !2", WED, "Task", None, None, [], MEDIUM),
    ("Task !3", WED, "Task", None, None, [], LOW),
    ("Task !!!", WED, "Task", None, None, [], HIGH),
    ("Task !!", WED, "Task", None, None, [], MEDIUM),
    ("Wow !", WED, "Wow !", None, None, [], None),
    ("Task !urgent", WED, "Task !urgent", None, None, [], None),
    # categories
    ("Tidy #home #work", WED, "Tidy", None, None, ["home", "work"], None),
    ('Tidy #"spare room"', WED, "Tidy", None, None, ["spare room"], None),
    ("Tidy #Home #home", WED, "Tidy", None, None, ["Home"], None),
    ("Tidy #café", WED, "Tidy", None, None, ["café"], None),
    ("Fix #42", WED, "Fix #42", None, None, [], None),
    ("Fix issue#3", WED, "Fix issue#3", None, None, [], None),
    ("Buy milk #home, #work.", WED, "Buy milk", None, None, ["home", "work"], None),
    ("Tidy #home! now", WED, "Tidy now", None, None, ["home"], None),
    ('Tidy #"spare room";', WED, "Tidy", None, None, ["spare room"], None),
    ("Tidy #e-mail?!", WED, "Tidy", None, None, ["e-mail"], None),
    ("Tidy #a.b", WED, "Tidy", None, None, ["a.b"], None),
    ("Tidy #,", WED, "Tidy #,", None, None, [], None),
    ("Tidy # now", WED, "Tidy # now", None, None, [], None),
    ('Tidy #""', WED, 'Tidy #""', None, None, [], None),
    ("Tidy #" + "x" * 51, WED, "Tidy #" + "x" * 51, None, None, [], None),
    # what is not read stays, in order, spaces tidied
    ("Buy milk", WED, "Buy milk", None, None, [], None),
    ("  Buy   milk   tomorrow  ", WED, "Buy milk", date(2026, 3, 12), None, [], None),
    ("Buy milk tomorrow, eggs", WED, "Buy milk tomorrow, eggs", None, None, [], None),
    (
        "Call Sam about Friday's meeting",
        WED,
        "Call Sam about Friday's meeting",
        None,
        None,
        [],
        None,
    ),
    ("tomorrow", WED, "", date(2026, 3, 12), None, [], None),
    ("", WED, "", None, None, [], None),
]


@pytest.mark.parametrize(
    ("text", "today", "title", "due_date", "due_time", "categories", "priority"), TABLE
)
def test_parse_phrase_reads_as_the_table_says(
    text: str,
    today: date,
    title: str,
    due_date: date | None,
    due_time: time | None,
    categories: list[str],
    priority: Priority | None,
) -> None:
    found = parse(text, today=today)

    assert (found.title, found.due_date, found.due_time, found.categories, found.priority) == (
        title,
        due_date,
        due_time,
        categories,
        priority,
    )


def test_parse_reports_each_part_with_its_offsets() -> None:
    text = 'Pay rent on March 12 at 9:30pm #"flat 2" !!!'

    found = parse(text, today=WED)

    assert found.parts == [
        Part("date", "on March 12", 9, 20, "2026-03-12"),
        Part("time", "at 9:30pm", 21, 30, "21:30"),
        Part("category", '#"flat 2"', 31, 40, "flat 2"),
        Part("priority", "!!!", 41, 44, "high"),
    ]
    assert all(text[part.start : part.end] == part.text for part in found.parts)


def test_parse_reports_nothing_for_a_plain_title() -> None:
    assert parse("Call Sam about Friday's meeting", today=WED).parts == []


def test_parse_table_has_at_least_sixty_phrases() -> None:
    assert len(TABLE) >= 60


WORDS = st.sampled_from(
    [
        "next",
        "friday",
        "in",
        "3",
        "days",
        "at",
        "9",
        "pm",
        "on",
        "12",
        "march",
        "2027,",
        "#home",
        '#"a b"',
        "!high",
        "!!",
        "tonight",
        "end",
        "of",
        "month",
        "feb",
        "29",
        "x",
    ]
)


@given(
    words=st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=8)), max_size=12),
    today=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
)
def test_parse_accounts_for_every_word(words: list[str], today: date) -> None:
    """Whatever the line, each word ends up in a part or in the title, and each part's
    offsets point at its text."""
    text = " ".join(words)

    found = parse(text, today=today)

    assert all(text[part.start : part.end] == part.text for part in found.parts)
    read = " ".join(part.text for part in found.parts).split()
    assert sorted(read + found.title.split()) == sorted(text.split())
