"""Time on the task pages: due time, zone, repeats and reminders on the task form (the
API's schemas judge them, so the page says what the API says); the due moment in the
viewer's zone, "Today" and "Overdue" as the viewer lives them; a recurring task's next
occurrences and its Done / Skip buttons, harmless when sent twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser, field_errors
from tests.support.tasks import create

pytestmark = pytest.mark.usefixtures("app")
FORM = {
    "title": "Stand-up",
    "status": "pending",
    "priority": "medium",
    "due_date": "2030-01-07",  # a Monday
    "due_time": "09:00",
    "timezone": "",
    "repeat": "",
    "rule": "",
    "repeat_mode": "schedule",
    "categories": "",
}
WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"


def _reminder(n: int, kind: str, amount: str = "", unit: str = "minutes", at: str = "") -> Any:
    prefix = f"reminders-{n}-"
    return {
        f"{prefix}kind": kind,
        f"{prefix}amount": amount,
        f"{prefix}unit": unit,
        f"{prefix}at": at,
    }


def _created(api: ApiClient, account: Account) -> dict[str, Any]:
    tasks = api.get("/api/tasks", account.token).get_json()["tasks"]
    assert len(tasks) == 1, tasks
    return tasks[0]  # type: ignore[no-any-return]


def _set_zone(api: ApiClient, account: Account, zone: str) -> None:
    assert api.patch("/api/me", account.token, json={"timezone": zone}).status_code == 200


def _hidden(html: str, form_action: str) -> str:
    block = re.search(rf'action="{re.escape(form_action)}">(.*?)</form>', html, re.S)
    assert block, f"no form posting to {form_action}"
    value = re.search(r'name="occurrence" value="([^"]+)"', block.group(1))
    assert value
    return value.group(1)


# --- the form: good input ---------------------------------------------------------------


def test_create_every_weekday_at_nine_with_a_reminder_saves_what_the_api_shows(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    form = {**FORM, "repeat": "weekdays", **_reminder(0, "before", "30", "minutes")}

    response = browse(alice).post("/tasks/new", form)

    assert response.status_code == 302, response.get_data(as_text=True)
    task = _created(api, alice)
    assert (task["due_date"], task["due_time"], task["timezone"]) == ("2030-01-07", "09:00", None)
    assert task["recurrence"] == {"rule": WEEKDAYS, "mode": "schedule"}
    assert task["reminders"] == [{"before_due": "PT30M"}]


@pytest.mark.parametrize(
    ("chosen", "rule"),
    [
        ({"repeat": "daily"}, "FREQ=DAILY"),
        ({"repeat": "weekly"}, "FREQ=WEEKLY;BYDAY=MO"),
        ({"repeat": "monthly", "due_date": "2030-01-31"}, "FREQ=MONTHLY;BYMONTHDAY=31"),
        ({"repeat": "yearly"}, "FREQ=YEARLY"),
        ({"repeat": "custom", "rule": "FREQ=MONTHLY;BYDAY=2TU"}, "FREQ=MONTHLY;BYDAY=2TU"),
    ],
)
def test_create_each_repeat_preset_saves_its_rule(
    api: ApiClient,
    browse: Callable[..., Browser],
    alice: Account,
    chosen: dict[str, str],
    rule: str,
) -> None:
    response = browse(alice).post("/tasks/new", {**FORM, **chosen})

    assert response.status_code == 302, response.get_data(as_text=True)
    assert _created(api, alice)["recurrence"]["rule"] == rule


def test_create_with_a_zone_after_completion_and_an_at_reminder(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    form = {
        **FORM,
        "timezone": "Asia/Kolkata",
        "repeat": "daily",
        "repeat_mode": "after_completion",
        **_reminder(0, ""),
        **_reminder(1, "at", at="2030-01-07T08:15"),
        **_reminder(2, "before", "2", "hours"),
    }

    response = browse(alice).post("/tasks/new", form)

    assert response.status_code == 302, response.get_data(as_text=True)
    task = _created(api, alice)
    assert task["timezone"] == "Asia/Kolkata"
    assert task["recurrence"] == {"rule": "FREQ=DAILY", "mode": "after_completion"}
    assert task["reminders"] == [{"at": "2030-01-07T08:15"}, {"before_due": "PT2H"}]


def test_new_task_page_offers_the_users_zone_and_as_many_reminder_rows_as_allowed(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    _set_zone(api, alice, "Europe/Berlin")

    html = browse(alice).get("/tasks/new").get_data(as_text=True)

    assert '<option selected value="">Your zone (Europe/Berlin)</option>' in html
    assert len(re.findall(r'<select id="reminders-\d+-kind"', html)) == 5
    assert 'type="time"' in html


def test_edit_form_shows_the_saved_time_fields_and_clearing_them_saves(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(
        api, alice, due_date="2030-01-07", due_time="09:00", recurrence={"rule": WEEKDAYS},
        reminders=[{"before_due": "PT90M"}, {"before_due": "P1D"}],
    )  # fmt: skip
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    version = re.search(r'id="version" name="version" type="hidden" value="([^"]*)"', page)
    assert version

    response = browser.post(f"/tasks/{task['id']}", {**FORM, "version": version[1]})

    assert re.search(r'<option selected value="weekdays">', page)
    assert re.search(r'id="reminders-0-amount"[^>]*value="90"', page)
    assert re.search(r'<option selected value="days">', page)
    assert response.status_code == 302, response.get_data(as_text=True)
    saved = api.get(f"/api/tasks/{task['id']}", alice.token).get_json()
    assert (saved["recurrence"], saved["reminders"]) == (None, [])


def test_the_edit_form_sent_twice_completes_one_occurrence(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(
        api, alice, due_date="2030-01-07", due_time="09:00", recurrence={"rule": WEEKDAYS}
    )
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    version = re.search(r'id="version" name="version" type="hidden" value="([^"]*)"', page)
    assert version
    form = {**FORM, "status": "completed", "repeat": "weekdays", "version": version[1]}

    first = browser.post(f"/tasks/{task['id']}", form)
    again = browser.post(f"/tasks/{task['id']}", form)  # the same page's form: If-Match

    assert first.status_code == 302, first.get_data(as_text=True)
    assert again.status_code == 409
    saved = api.get(f"/api/tasks/{task['id']}", alice.token).get_json()
    assert (saved["due_date"], saved["status"]) == ("2030-01-08", "pending")


# --- the form: bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changed", "field_id", "api_field", "api_body"),
    [
        ({"due_time": "25:00"}, "due_time", "due_time", {"due_time": "25:00"}),
        ({"timezone": "Mars/Base"}, "timezone", "timezone", {"timezone": "Mars/Base"}),
        (
            {"repeat": "custom", "rule": "FREQ=HOURLY"},
            "repeat",
            "recurrence",
            {"recurrence": {"rule": "FREQ=HOURLY"}},
        ),
        (
            {"repeat": "custom", "rule": "FREQ=DAILY;UNTIL=20000101"},
            "repeat",
            "recurrence",
            {"recurrence": {"rule": "FREQ=DAILY;UNTIL=20000101"}},
        ),
        (
            _reminder(0, "before", "soon"),
            "reminders",
            "reminders",
            {"reminders": [{"before_due": "PTsoonM"}]},
        ),
        (
            _reminder(0, "at", at="tomorrow"),
            "reminders",
            "reminders",
            {"reminders": [{"at": "tomorrow"}]},
        ),
    ],
)
def test_create_bad_time_field_shows_the_apis_message_by_the_field(
    api: ApiClient,
    browse: Callable[..., Browser],
    alice: Account,
    changed: dict[str, str],
    field_id: str,
    api_field: str,
    api_body: dict[str, Any],
) -> None:
    body = {"title": "Stand-up", "due_date": "2030-01-07", "due_time": "09:00", **api_body}
    errors = api.post("/api/tasks", alice.token, json=body).get_json()["errors"]
    said = [
        text for key, texts in errors.items() if key.split(".")[0] == api_field for text in texts
    ]

    response = browse(alice).post("/tasks/new", {**FORM, **changed})

    assert response.status_code == 400
    shown = field_errors(response, field_id)
    assert shown, response.get_data(as_text=True)
    assert all(any(text in line for line in shown) for text in _flat(said)), (shown, said)
    assert api.get("/api/tasks", alice.token).get_json()["tasks"] == []


def test_create_more_reminders_than_allowed_is_refused(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    rows = {k: v for n in range(6) for k, v in _reminder(n, "before", str(n + 1)).items()}

    response = browse(alice).post("/tasks/new", {**FORM, **rows})

    assert response.status_code == 400
    assert field_errors(response, "reminders")
    assert api.get("/api/tasks", alice.token).get_json()["tasks"] == []


def test_create_repeat_without_a_due_date_is_refused(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post(
        "/tasks/new", {**FORM, "due_date": "", "due_time": "", "repeat": "weekly"}
    )

    assert response.status_code == 400
    assert "recurrence" in response.get_data(as_text=True).lower() or field_errors(
        response, "repeat"
    )
    assert api.get("/api/tasks", alice.token).get_json()["tasks"] == []


def _flat(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [text for inner in messages.values() for text in _flat(inner)]
    if isinstance(messages, list):
        return [text for inner in messages for text in _flat(inner)]
    return [str(messages)]


# --- the task page ----------------------------------------------------------------------


def test_task_page_shows_the_due_time_in_the_viewers_zone_with_its_name(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    _set_zone(api, alice, "Europe/Berlin")
    task = create(api, alice, due_date="2030-01-31", due_time="09:00", timezone="America/New_York")

    html = browse(alice).get(f"/tasks/{task['id']}").get_data(as_text=True)

    assert '<time datetime="2030-01-31T15:00">31 Jan 2030, 15:00</time>' in html
    assert '<span class="zone">Europe/Berlin</span>' in html


def test_task_page_lists_the_next_occurrences_and_done_moves_on_once(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(
        api, alice, due_date="2030-01-11", due_time="09:00", recurrence={"rule": WEEKDAYS}
    )  # a Friday
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    key = _hidden(page, f"/tasks/{task['id']}/complete")

    first = browser.post(f"/tasks/{task['id']}/complete", {"occurrence": key})
    again = browser.post(f"/tasks/{task['id']}/complete", {"occurrence": key})

    assert "Next occurrences" in page
    occurrences = re.findall(r'<li><time datetime="([^"]+)">', page)
    assert occurrences[:3] == ["2030-01-11T09:00:00", "2030-01-14T09:00:00", "2030-01-15T09:00:00"]
    assert "Done (next: 14 Jan 2030, 09:00)" in page
    assert key == "2030-01-11T09:00"
    assert (first.status_code, again.status_code) == (302, 302)
    saved = api.get(f"/api/tasks/{task['id']}", alice.token).get_json()
    assert (saved["due_date"], saved["status"]) == ("2030-01-14", "pending")
    assert "That one was already done." in browser.get(f"/tasks/{task['id']}").get_data(
        as_text=True
    )


def test_skip_moves_to_the_next_occurrence_and_a_bad_key_changes_nothing(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, due_date="2030-01-07", recurrence={"rule": "FREQ=DAILY"})
    browser = browse(alice)

    bad = browser.post(f"/tasks/{task['id']}/skip", {"occurrence": "not-a-key"})
    after_bad = api.get(f"/api/tasks/{task['id']}", alice.token).get_json()["due_date"]
    skipped = browser.post(f"/tasks/{task['id']}/skip", {"occurrence": "2030-01-07"})

    assert (bad.status_code, skipped.status_code) == (302, 302)
    assert after_bad == "2030-01-07"
    assert api.get(f"/api/tasks/{task['id']}", alice.token).get_json()["due_date"] == "2030-01-08"


def test_skip_of_a_task_that_does_not_recur_says_so_and_changes_nothing(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, due_date="2030-01-07")
    browser = browse(alice)

    response = browser.post(f"/tasks/{task['id']}/skip", {"occurrence": "2030-01-07"})

    assert response.status_code == 302
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "does not recur" in page
    assert "Next occurrences" not in page
    assert api.get(f"/api/tasks/{task['id']}", alice.token).get_json()["due_date"] == "2030-01-07"


def test_done_by_someone_who_cannot_see_the_task_is_404(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, alice, due_date="2030-01-07", recurrence={"rule": "FREQ=DAILY"})

    response = browse(bob).post(f"/tasks/{task['id']}/complete", {"occurrence": "2030-01-07"})

    assert response.status_code == 404
    assert api.get(f"/api/tasks/{task['id']}", alice.token).get_json()["due_date"] == "2030-01-07"


# --- the list: today and overdue in the viewer's zone ------------------------------------


@pytest.mark.parametrize(
    ("zone", "utc_hour", "overdue", "today"),
    [
        ("Pacific/Kiritimati", 12, True, False),  # already the 8th there
        ("America/Los_Angeles", 12, False, True),
        ("America/Los_Angeles", 5, False, False),  # still the 6th there
        ("UTC", 5, False, True),
    ],
)
def test_list_reckons_today_and_overdue_in_the_viewers_zone(
    api: ApiClient,
    browse: Callable[..., Browser],
    alice: Account,
    zone: str,
    utc_hour: int,
    overdue: bool,
    today: bool,
) -> None:
    """A task due on 7 January 2030 (a date alone), seen on that day at ``utc_hour``
    UTC from UTC+14, UTC-8 and UTC: overdue, due today, or neither."""
    create(api, alice, title="Due on the 7th", due_date="2030-01-07")
    _set_zone(api, alice, zone)

    with time_machine.travel(datetime(2030, 1, 7, utc_hour, 0, tzinfo=UTC), tick=True):
        html = browse(alice).get("/tasks").get_data(as_text=True)

    assert ("Overdue</strong>" in html) is overdue
    assert ("Today</strong>" in html) is today
