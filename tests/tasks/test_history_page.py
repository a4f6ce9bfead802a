"""The task page tells the task's history in words, newest first, a page at a time, from
the same service as GET /api/tasks/<id>/history."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest

from doable.tasks.views import HISTORY_PER_PAGE
from tests.support.factories import Account, ApiClient, share
from tests.support.pages import Browser
from tests.support.tasks import create

pytestmark = pytest.mark.usefixtures("app")
_LINE = re.compile(r'<li>(.*?) · <time datetime="([^"]+)">([^<]+)</time></li>', re.S)


def history_lines(page: str) -> list[tuple[str, str, str]]:
    """(sentence, datetime attribute, time shown) of each line of the page's history."""
    section = re.search(r'<section class="card" id="history".*?</section>', page, re.S)
    assert section, "the page has no history"
    return [
        (html.unescape(text), at, html.unescape(shown))
        for text, at, shown in _LINE.findall(section.group(0))
    ]


def test_the_task_page_tells_who_changed_what_and_when(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, alice, title="Report", categories=["Work"])
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"status": "completed"})
    share(api, alice, task["id"], bob, "edit")
    api.patch(f"/api/tasks/{task['id']}", bob.token, json={"title": "Final report"})

    page = browse(alice).get(f"/tasks/{task['id']}").get_data(as_text=True)

    lines = history_lines(page)
    assert [text for text, _, _ in lines] == [
        "bob changed title from “Report” to “Final report”",
        "alice shared the task with bob, who can edit",
        "alice changed status from pending to completed",
        "alice created the task",
    ]
    at = api.get(f"/api/tasks/{task['id']}/history", alice.token).json["changes"][0]["at"]
    assert lines[0][1] == at
    assert re.fullmatch(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC", lines[0][2])
    assert 'aria-labelledby="history-title"' in page


def test_older_changes_are_a_link_away(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="t0")
    for n in range(1, HISTORY_PER_PAGE + 2):
        api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": f"t{n}"})
    browser = browse(alice)

    first = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    older = re.search(r'href="([^"]+)">Older changes', first)
    assert older
    second = browser.get(html.unescape(older.group(1))).get_data(as_text=True)

    assert len(history_lines(first)) == HISTORY_PER_PAGE
    assert [text for text, _, _ in history_lines(second)] == [
        "alice changed title from “t0” to “t1”",
        "alice created the task",
    ]
    assert "Newer changes" in second
    assert "Older changes" not in second


@pytest.mark.parametrize("number", ["²", "0", "-1", "x", "9" * 40])
def test_a_history_page_that_is_no_number_shows_the_first(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, number: str
) -> None:
    task = create(api, alice, title="t0")

    page = browse(alice).get(f"/tasks/{task['id']}", query_string={"history": number})

    assert page.status_code == 200
    assert [text for text, _, _ in history_lines(page.get_data(as_text=True))] == [
        "alice created the task"
    ]


def test_a_sharee_does_not_see_changes_to_others_shares(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account, carol: Account
) -> None:
    task = create(api, alice, title="Plan")
    share(api, alice, task["id"], bob, "view")
    share(api, alice, task["id"], carol, "view")

    page = browse(carol).get(f"/tasks/{task['id']}").get_data(as_text=True)

    assert [text for text, _, _ in history_lines(page)] == [
        "alice shared the task with carol, who can view",
        "alice created the task",
    ]
