"""The list page's quick add (tasks/_quick_add.html) without script: "Preview" shows
what the line would create, "Add" creates it, errors stay next to the field."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from doable.tasks import recurrence
from tests.support.factories import Account, ApiClient, stored_task
from tests.support.pages import Browser, field_errors, input_value
from tests.support.tasks import create, set_zone, task_count

pytestmark = pytest.mark.usefixtures("app")
LINE = "Pay rent tomorrow 9am #home !high"


def _tomorrow(zone_name: str) -> str:
    return (recurrence.today_in(recurrence.zone(zone_name)) + timedelta(days=1)).isoformat()


def test_list_shows_the_quick_add_form(browse: Callable[..., Browser], alice: Account) -> None:
    html = browse(alice).get("/tasks").get_data(as_text=True)

    assert re.search(r'<form method="post" action="/tasks/quick"[^>]*id="quick-add-form"', html)
    assert '<label for="quick-add">Quick add</label>' in html
    assert "For example: Pay rent tomorrow 9am #home !high" in html
    assert 'name="action" value="add">Add</button>' in html
    assert 'name="action" value="preview">Preview</button>' in html


def test_preview_shows_the_parts_and_keeps_the_text(
    browse: Callable[..., Browser], app: Flask, alice: Account
) -> None:
    set_zone(app, alice, "Asia/Tokyo")

    response = browse(alice).post("/tasks/quick", {"text": LINE, "action": "preview"})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert input_value(response, "quick-add") == LINE
    assert '<dd data-part="title">Pay rent</dd>' in html
    assert f'<time datetime="{_tomorrow("Asia/Tokyo")}T09:00">' in html
    assert '<dd data-part="categories">home</dd>' in html
    assert '<dd data-part="priority">High</dd>' in html
    assert task_count(app) == 0


def test_add_creates_the_task_and_goes_back_to_the_list(
    browse: Callable[..., Browser], app: Flask, alice: Account
) -> None:
    set_zone(app, alice, "America/New_York")
    browser = browse(alice)

    response = browser.post("/tasks/quick", {"text": LINE, "action": "add"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/tasks"
    task = stored_task(app, 1)
    assert task is not None
    assert (task["title"], task["due_date"].isoformat(), task["priority"]) == (
        "Pay rent",
        _tomorrow("America/New_York"),
        3,
    )
    listed = browser.get("/tasks").get_data(as_text=True)
    assert "Task “Pay rent” added." in listed
    assert input_value(browser.get("/tasks"), "quick-add") == ""


def test_enter_adds_since_add_is_the_first_button(
    browse: Callable[..., Browser], alice: Account
) -> None:
    html = browse(alice).get("/tasks").get_data(as_text=True)
    form = html[html.index('id="quick-add-form"') :]

    assert form.index('value="add"') < form.index('value="preview"')


def test_add_without_a_title_creates_nothing(
    browse: Callable[..., Browser], app: Flask, alice: Account
) -> None:
    response = browse(alice).post("/tasks/quick", {"text": "tomorrow #home", "action": "add"})

    assert response.status_code == 400
    assert field_errors(response, "quick-add") == [
        "Add a title: only a date, a time, categories or a priority were recognised."
    ]
    assert input_value(response, "quick-add") == "tomorrow #home"
    assert task_count(app) == 0


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("", ["Length must be between 1 and 500.", "Must not be blank."]),
        ("   ", ["Must not be blank."]),
        ("x" * 501, ["Length must be between 1 and 500."]),
    ],
)
def test_add_refuses_a_bad_line_next_to_the_field(
    browse: Callable[..., Browser], app: Flask, alice: Account, text: str, messages: list[str]
) -> None:
    response = browse(alice).post("/tasks/quick", {"text": text, "action": "add"})

    assert response.status_code == 400
    assert field_errors(response, "quick-add") == messages
    assert task_count(app) == 0


def test_add_refuses_a_title_the_api_would_refuse(
    browse: Callable[..., Browser], app: Flask, alice: Account
) -> None:
    response = browse(alice).post("/tasks/quick", {"text": "x" * 201, "action": "add"})

    assert response.status_code == 400
    assert field_errors(response, "quick-add") == ["Title: Length must be between 1 and 200."]
    assert task_count(app) == 0


def test_add_refuses_more_than_twenty_categories(
    browse: Callable[..., Browser], app: Flask, alice: Account
) -> None:
    tags = " ".join(f"#c{n}" for n in range(21))

    response = browse(alice).post("/tasks/quick", {"text": f"Sort {tags}", "action": "add"})

    assert response.status_code == 400
    assert field_errors(response, "quick-add") == ["Categories: Longer than maximum length 20."]
    assert task_count(app) == 0


def test_add_past_the_users_category_limit_creates_nothing(
    make_app: Callable[..., Flask],
) -> None:
    capped = make_app(MAX_CATEGORIES_PER_USER=1)
    alice = ApiClient(capped.test_client()).account("alice")
    browser = Browser(capped.test_client())
    browser.login(alice)

    response = browser.post("/tasks/quick", {"text": "Sort #a #b", "action": "add"})

    assert response.status_code == 409
    assert field_errors(response, "quick-add") == [
        "At most 1 categories per user: 0 exist and this would add 2. "
        "Delete unused ones, or use existing names."
    ]
    assert input_value(response, "quick-add") == "Sort #a #b"
    assert task_count(capped) == 0


def test_preview_fragment_is_the_same_markup(
    browse: Callable[..., Browser], app: Flask, alice: Account
) -> None:
    browser = browse(alice)

    fragment = browser.get("/tasks/quick/preview", query_string={"text": LINE})
    page = browser.post("/tasks/quick", {"text": LINE, "action": "preview"})

    assert fragment.status_code == 200
    markup = fragment.get_data(as_text=True).strip()
    assert markup.startswith('<dl class="quick-parts"')
    assert markup in page.get_data(as_text=True)


def test_preview_fragment_refuses_a_long_line(
    browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).get("/tasks/quick/preview", query_string={"text": "x" * 501})

    assert response.status_code == 400
    assert "Length must be between 1 and 500." in response.get_data(as_text=True)


def test_quick_add_needs_a_login(browse: Callable[..., Browser], app: Flask) -> None:
    anonymous = browse()

    assert anonymous.get("/tasks/quick/preview?text=x").status_code == 302
    assert task_count(app) == 0


def test_add_keeps_the_other_tasks_listed(
    browse: Callable[..., Browser], api: ApiClient, alice: Account
) -> None:
    create(api, alice, title="Older one")
    browser = browse(alice)

    browser.post("/tasks/quick", {"text": "Newer one !low", "action": "add"})

    html = browser.get("/tasks").get_data(as_text=True)
    assert "Older one" in html
    assert "Newer one" in html


def test_quick_add_from_today_previews_refuses_and_adds_back_on_today(
    browse: Callable[..., Browser], app: Flask, alice: Account
) -> None:
    """Today's form sends its own path as ``next``: the preview and a refusal are shown
    on Today (not the list), and an added task sends the browser back there."""
    browser = browse(alice)
    today_page = browser.get("/tasks/today").get_data(as_text=True)
    assert '<input type="hidden" name="next" value="/tasks/today">' in today_page
    sent = {"text": "Call Sam today 9am", "next": "/tasks/today"}

    preview = browser.post("/tasks/quick", {**sent, "action": "preview"})
    refused = browser.post("/tasks/quick", {**sent, "text": "today", "action": "add"})
    added = browser.post("/tasks/quick", {**sent, "action": "add"})

    assert preview.status_code == 200
    assert "<h1>Today</h1>" in preview.get_data(as_text=True)
    assert input_value(preview, "quick-add") == "Call Sam today 9am"
    assert '<dd data-part="title">Call Sam</dd>' in preview.get_data(as_text=True)
    assert refused.status_code == 400
    assert "<h1>Today</h1>" in refused.get_data(as_text=True)
    assert field_errors(refused, "quick-add") == [
        "Add a title: only a date, a time, categories or a priority were recognised."
    ]
    assert added.status_code == 302
    assert added.headers["Location"] == "/tasks/today"
    back = browser.get("/tasks/today").get_data(as_text=True)
    assert "Task “Call Sam” added." in back
    assert re.search(r'class="task-title"[^>]*>Call Sam</a>', back)
    assert task_count(app) == 1
