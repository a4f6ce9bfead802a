"""Every time a page prints is in its viewer's zone, named, and carried as the API
writes it in a ``<time datetime="...Z">`` (the ``moment`` filter); days of instants
("Member since") are the viewer's days too."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import time_machine

from tests.changes.feeds import new_task
from tests.support.factories import Account, ApiClient, share
from tests.support.pages import Browser

#: When the task is made: 10:30 UTC on Monday 5 January 2026.
MADE = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)


def _facts(html: str) -> dict[str, str]:
    """A task page's facts, each ``<dt>`` with the raw HTML of its ``<dd>``."""
    return dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>(.*?)</dd>", html))


@pytest.fixture
def then() -> Iterator[None]:
    """The test runs at ``MADE``, its accounts and logins included (tokens and cookies
    made at another time would not be valid then)."""
    with time_machine.travel(MADE, tick=False):
        yield


def _account(api: ApiClient, name: str, zone: str) -> Account:
    account = api.account(name)
    assert api.patch("/api/me", account.token, json={"timezone": zone}).status_code == 200
    return account


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("UTC", "5 Jan 2026, 10:30 UTC"),
        ("Asia/Kolkata", "5 Jan 2026, 16:00 IST"),
        ("Europe/Berlin", "5 Jan 2026, 11:30 CET"),
        ("America/Los_Angeles", "5 Jan 2026, 02:30 PST"),
        ("Asia/Dubai", "5 Jan 2026, 14:30 UTC+04"),  # a zone with no abbreviation of its own
        ("Pacific/Kiritimati", "6 Jan 2026, 00:30 UTC+14"),  # its day is already the 6th
    ],
)
def test_task_page_shows_when_it_was_made_in_the_viewers_zone(
    then: None, api: ApiClient, browse: Callable[..., Browser], zone: str, shown: str
) -> None:
    dana = _account(api, "dana", zone)
    task_id = new_task(api, dana)

    html = browse(dana).get(f"/tasks/{task_id}").get_data(as_text=True)

    assert _facts(html)["Created"] == f'<time datetime="2026-01-05T10:30:00Z">{shown}</time>'


def test_each_viewer_reads_the_same_instant_in_their_own_zone(
    then: None, api: ApiClient, browse: Callable[..., Browser]
) -> None:
    dana, erin = _account(api, "dana", "UTC"), _account(api, "erin", "Asia/Kolkata")
    task_id = new_task(api, dana)
    share(api, dana, task_id, erin, "view")

    mine = browse(dana).get(f"/tasks/{task_id}").get_data(as_text=True)
    theirs = browse(erin).get(f"/tasks/{task_id}").get_data(as_text=True)

    assert "5 Jan 2026, 10:30 UTC" in _facts(mine)["Created"]
    assert "5 Jan 2026, 16:00 IST" in _facts(theirs)["Created"]


def test_history_times_are_in_the_viewers_zone(
    then: None, api: ApiClient, browse: Callable[..., Browser]
) -> None:
    dana = _account(api, "dana", "Asia/Kolkata")
    task_id = new_task(api, dana)

    html = browse(dana).get(f"/tasks/{task_id}").get_data(as_text=True)

    history = html[html.index('id="history"') :]
    assert re.search(
        r'<li>[^<]+ · <time datetime="2026-01-05T10:30:00Z">5 Jan 2026, 16:00 IST</time></li>',
        history,
    )


def test_member_since_is_the_viewers_day(api: ApiClient, browse: Callable[..., Browser]) -> None:
    with time_machine.travel(datetime(2026, 1, 5, 20, tzinfo=UTC), tick=False):
        dana = _account(api, "dana", "Asia/Tokyo")

        html = browse(dana).get("/account").get_data(as_text=True)

    assert "<dt>Member since</dt><dd>6 Jan 2026</dd>" in html  # 05:00 on the 6th in Tokyo


def test_api_token_times_are_in_the_viewers_zone(
    then: None, api: ApiClient, browse: Callable[..., Browser]
) -> None:
    dana = _account(api, "dana", "Europe/Berlin")
    browser = browse(dana)
    browser.post("/account/tokens", {"name": "script", "scopes": "tasks:read"})

    html = browser.get("/account/tokens").get_data(as_text=True)

    made = '<time datetime="2026-01-05T10:30:00Z">5 Jan 2026, 11:30 CET</time>'
    assert f"<dt>Created</dt><dd>{made}</dd>" in html
