"""Today (due today or overdue) and Upcoming (the seven days after today, by day), in
the viewer's zone, and the navigation's counts: for users at UTC+14
(Pacific/Kiritimati) and UTC-11 (Pacific/Pago_Pago), whose dates are a day apart
or more, with tasks due at 23:59 today and 00:00 tomorrow local and on dates alone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from flask import Flask

from doable.tasks import recurrence
from tests.support.factories import Account, ApiClient, share
from tests.support.pages import Browser
from tests.support.tasks import create, set_zone

pytestmark = pytest.mark.usefixtures("app")
ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago")


def _titles(page: str) -> list[str]:
    return re.findall(
        r'<a class="task-title" href="/tasks/\d+" data-field="title">([^<]*)</a>', page
    )


def _counts(browser: Browser) -> dict[str, int]:
    return browser.get("/tasks/counts").get_json()  # type: ignore[no-any-return]


def _day_tasks(api: ApiClient, account: Account, today: date) -> None:
    """Tasks due around ``today`` (the account's), named by when they are due."""
    tomorrow = today + timedelta(days=1)
    for title, fields in {
        "yesterday": {"due_date": (today - timedelta(days=1)).isoformat()},
        "today": {"due_date": today.isoformat()},
        "today 23:59": {"due_date": today.isoformat(), "due_time": "23:59"},
        "tomorrow 00:00": {"due_date": tomorrow.isoformat(), "due_time": "00:00"},
        "tomorrow": {"due_date": tomorrow.isoformat()},
        "in 7 days": {"due_date": (today + timedelta(days=7)).isoformat()},
        "in 8 days": {"due_date": (today + timedelta(days=8)).isoformat()},
        "no date": {},
    }.items():
        create(api, account, title=title, **fields)
    create(api, account, title="done today", due_date=today.isoformat(), status="completed")


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize(
    "now",
    [
        None,  # the real clock
        datetime(2026, 11, 30, 9, 59, tzinfo=UTC),  # 23:59 in Kiritimati
        datetime(2026, 11, 30, 10, 0, tzinfo=UTC),  # 00:00 in Kiritimati
        datetime(2026, 12, 1, 10, 59, tzinfo=UTC),  # 23:59 in Pago Pago
        datetime(2026, 12, 1, 11, 0, tzinfo=UTC),  # 00:00 in Pago Pago
    ],
)
def test_today_and_upcoming_hold_the_viewers_days(
    api: ApiClient,
    app: Flask,
    browse: Callable[..., Browser],
    zone_name: str,
    now: datetime | None,
) -> None:
    with time_machine.travel(now or datetime.now(UTC), tick=False):
        alice = api.account("alice")  # her tokens made at the test's time
        set_zone(app, alice, zone_name)
        today = recurrence.today_in(recurrence.zone(zone_name))
        _day_tasks(api, alice, today)
        browser = browse(alice)

        today_page = browser.get("/tasks/today").get_data(as_text=True)
        upcoming_page = browser.get("/tasks/upcoming").get_data(as_text=True)

        assert _titles(today_page) == ["yesterday", "today", "today 23:59"]
        assert _titles(upcoming_page) == ["tomorrow", "tomorrow 00:00", "in 7 days"]
        assert _counts(browser) == {"today": 3, "upcoming": 3}
        assert f'datetime="{today.isoformat()}"' in today_page
        headings = re.findall(
            r'<li class="day-heading"><h2 id="day-([\d-]+)">([^<]+)</h2>', upcoming_page
        )
        week = today + timedelta(days=7)
        assert headings == [
            ((today + timedelta(days=1)).isoformat(), "Tomorrow"),
            (
                week.isoformat(),
                f"{week:%A} {week.day} {week:%B}"
                + (f" {week.year}" if week.year != today.year else ""),
            ),
        ]


def test_a_timed_task_is_on_the_viewers_day_of_its_instant(
    api: ApiClient, app: Flask, browse: Callable[..., Browser]
) -> None:
    """One task due 10:00 UTC on the 1st: 00:00 on the 2nd in Kiritimati, 23:00 on the
    30th in Pago Pago; at 12:00 UTC on the 30th (02:00 on the 1st in Kiritimati, 01:00
    on the 30th in Pago Pago) it is Upcoming, tomorrow, for the one and Today for the other."""
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        alice, bob = api.account("alice"), api.account("bob")
        set_zone(app, alice, "Pacific/Pago_Pago")  # 01:00 on the 30th
        set_zone(app, bob, "Pacific/Kiritimati")  # 02:00 on Dec 1st
        task = create(
            api, alice, title="Call", due_date="2026-12-01", due_time="10:00", timezone="UTC"
        )
        share(api, alice, task["id"], bob, "view")

        pago, kiri = browse(alice), browse(bob)

        assert _titles(pago.get("/tasks/today").get_data(as_text=True)) == ["Call"]
        assert _titles(pago.get("/tasks/upcoming").get_data(as_text=True)) == []
        assert _titles(kiri.get("/tasks/today").get_data(as_text=True)) == []
        upcoming = kiri.get("/tasks/upcoming").get_data(as_text=True)
        assert _titles(upcoming) == ["Call"]
        assert '<h2 id="day-2026-12-02">Tomorrow</h2>' in upcoming
        assert _counts(kiri) == {"today": 0, "upcoming": 1}
        assert _counts(pago) == {"today": 1, "upcoming": 0}


def test_the_navigation_marks_the_current_view_and_counts_shared_tasks(
    api: ApiClient, app: Flask, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    today = recurrence.today_in(recurrence.zone("UTC"))
    mine = create(api, alice, title="mine", due_date=today.isoformat())
    share(api, alice, mine["id"], bob, "edit")
    create(api, bob, title="bob's", due_date=today.isoformat())
    browser = browse(bob)

    for path, current in (
        ("/tasks", "All"),
        ("/tasks/today", "Today"),
        ("/tasks/upcoming", "Upcoming"),
    ):
        page = browser.get(path).get_data(as_text=True)
        nav = re.search(r'<nav class="views-nav".*?</nav>', page, re.S)
        assert nav
        marked = re.findall(r'aria-current="page">(\w+)', nav.group(0))
        assert marked == [current]
        assert '<span class="view-count" data-count="today">2</span>' in nav.group(0)


def test_fragments_do_not_count_the_views(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, statements: list[str]
) -> None:
    task = create(api, alice, title="row")
    browser = browse(alice)
    statements.clear()

    row = browser.get(f"/tasks/{task['id']}/row").get_data(as_text=True)

    assert "views-nav" not in row
    assert not [s for s in statements if "count(" in s.lower() and "due" in s.lower()]


def test_counts_are_for_signed_in_people_only(browse: Callable[..., Browser]) -> None:
    response = browse().get("/tasks/counts")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
