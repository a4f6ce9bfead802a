"""Done in one click (POST /tasks/<id>/done) and its Undo (POST /tasks/<id>/undo), as
forms without JavaScript and as static/tasks/done.js sends them (asking for JSON)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.factories import Account, ApiClient, share
from tests.support.pages import Browser
from tests.support.tasks import create

pytestmark = pytest.mark.usefixtures("app")
JSON = {"Accept": "application/json"}


def _task(api: ApiClient, account: Account, task_id: int) -> dict[str, Any]:
    response = api.get(f"/api/tasks/{task_id}", account.token)
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


def _undo_form(page: str) -> tuple[str, dict[str, str]]:
    """The Undo form of a confirmation on ``page``: where it posts, and its fields."""
    form = re.search(
        r'<form method="post" action="([^"]+)" class="undo-form">(.*?)</form>', page, re.S
    )
    assert form, "the page has no Undo"
    fields = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))
    )
    fields.pop("csrf_token")
    return form.group(1), {name: html.unescape(value) for name, value in fields.items()}


def test_tick_from_the_list_completes_the_task_and_comes_back_with_an_undo(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Buy <milk>", status="in_progress")
    browser = browse(alice)

    ticked = browser.post(
        f"/tasks/{task['id']}/done", {"done": "true", "next": "/tasks?sort=title"}
    )

    assert ticked.status_code == 302
    assert ticked.headers["Location"] == "/tasks?sort=title"
    assert _task(api, alice, task["id"])["status"] == "completed"
    page = browser.get("/tasks?sort=title").get_data(as_text=True)
    assert "“Buy &lt;milk&gt;” done." in page  # escaped, as all text
    action, fields = _undo_form(page)
    assert action == f"/tasks/{task['id']}/undo"
    assert set(fields) == {"undo", "next"}  # the previous state is signed, not spelled out
    assert fields["next"] == "/tasks?sort=title"

    undone = browser.post(action, fields)

    assert undone.status_code == 302
    assert undone.headers["Location"] == "/tasks?sort=title"
    assert _task(api, alice, task["id"])["status"] == "in_progress"
    assert "“Buy &lt;milk&gt;” is back as it was." in browser.get("/tasks").get_data(as_text=True)


def test_tick_a_completed_task_makes_it_pending_and_undo_completes_it_again(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Filed", status="completed")
    browser = browse(alice)
    row = browser.get("/tasks").get_data(as_text=True)
    assert 'name="done" value="false"' in row
    assert 'aria-pressed="true"' in row

    browser.post(f"/tasks/{task['id']}/done", {"done": "false"})

    assert _task(api, alice, task["id"])["status"] == "pending"
    action, fields = _undo_form(browser.get("/tasks").get_data(as_text=True))
    browser.post(action, fields)
    assert _task(api, alice, task["id"])["status"] == "completed"


def test_tick_a_recurring_task_rolls_it_forward_as_the_api_does_and_undo_brings_it_back(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    fields = {"due_date": "2030-01-07", "due_time": "09:00", "recurrence": {"rule": "FREQ=DAILY"}}
    task = create(api, alice, title="Stand-up", **fields)
    twin = create(api, alice, title="Twin", **fields)
    api.post(f"/api/tasks/{twin['id']}/complete", alice.token)
    browser = browse(alice)

    browser.post(f"/tasks/{task['id']}/done", {"done": "true", "next": f"/tasks/{task['id']}"})

    rolled, by_api = _task(api, alice, task["id"]), _task(api, alice, twin["id"])
    assert (rolled["status"], rolled["due_date"], rolled["due_time"]) == (
        by_api["status"],
        by_api["due_date"],
        by_api["due_time"],
    )
    assert (rolled["status"], rolled["due_date"]) == ("pending", "2030-01-08")
    action, undo = _undo_form(browser.get(f"/tasks/{task['id']}").get_data(as_text=True))
    browser.post(action, undo)
    back = _task(api, alice, task["id"])
    assert (back["status"], back["due_date"], back["due_time"], back["due_at"]) == (
        "pending",
        "2030-01-07",
        "09:00",
        task["due_at"],
    )
    occurrences = api.get(f"/api/tasks/{task['id']}/occurrences?limit=2", alice.token)
    assert [o["local"][:10] for o in occurrences.get_json()["occurrences"]] == [
        "2030-01-07",
        "2030-01-08",
    ]


def test_undo_after_an_edit_refuses_and_keeps_the_edit(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Call Sam")
    browser = browse(alice)
    browser.post(f"/tasks/{task['id']}/done", {"done": "true"})
    action, fields = _undo_form(browser.get("/tasks").get_data(as_text=True))
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "Call Sam back"})

    refused = browser.post(action, fields, follow_redirects=True)

    assert "“Call Sam back” was changed after it was ticked, so Undo left it as it is." in (
        refused.get_data(as_text=True)
    )
    after = _task(api, alice, task["id"])
    assert (after["title"], after["status"]) == ("Call Sam back", "completed")


def test_view_only_sharee_sees_a_disabled_box_and_a_forged_tick_is_forbidden(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, alice, title="Alice's")
    share(api, alice, task["id"], bob, "view")
    browser = browse(bob)
    assert "You can only view this task" in browser.get("/tasks").get_data(as_text=True)

    forged = browser.post(f"/tasks/{task['id']}/done", {"done": "true"})

    assert forged.status_code == 403
    assert "text/html" in forged.content_type
    assert _task(api, alice, task["id"])["status"] == "pending"


def test_edit_sharee_can_tick(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, alice, title="Alice's")
    share(api, alice, task["id"], bob, "edit")

    assert browse(bob).post(f"/tasks/{task['id']}/done", {"done": "true"}).status_code == 302
    assert _task(api, alice, task["id"])["status"] == "completed"


def test_tick_or_undo_someone_elses_task_is_not_found(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, alice, title="Private")
    browser = browse(bob)

    assert browser.post(f"/tasks/{task['id']}/done", {"done": "true"}).status_code == 404
    assert _task(api, alice, task["id"])["status"] == "pending"
    owner = browse(alice)
    owner.post(f"/tasks/{task['id']}/done", {"done": "true"})
    _, undo = _undo_form(owner.get("/tasks").get_data(as_text=True))
    assert browser.post(f"/tasks/{task['id']}/undo", undo).status_code == 400  # hers, not his
    assert _task(api, alice, task["id"])["status"] == "completed"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", ""])
def test_tick_goes_back_only_to_a_path_on_this_site(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, target: str
) -> None:
    task = create(api, alice)

    ticked = browse(alice).post(f"/tasks/{task['id']}/done", {"done": "true", "next": target})

    assert ticked.headers["Location"] == "/tasks"


@pytest.mark.parametrize(
    "form",
    [
        {"done": "yes"},
        {},
    ],
)
def test_tick_without_a_done_value_is_a_bad_request(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, form: dict[str, str]
) -> None:
    task = create(api, alice)

    assert browse(alice).post(f"/tasks/{task['id']}/done", form).status_code == 400
    assert _task(api, alice, task["id"])["status"] == "pending"


@pytest.mark.parametrize(
    "form",
    [
        {"status": "done", "etag": "abc"},
        {"status": "pending", "etag": "abc", "due_date": "2030-02-30"},
        {"undo": ""},
        {"undo": "WyJwZW5kaW5nIl0.forged"},
        {"undo": "a" * 513},
    ],
)
def test_undo_a_form_the_site_did_not_make_is_a_bad_request(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, form: dict[str, str]
) -> None:
    task = create(api, alice)

    assert browse(alice).post(f"/tasks/{task['id']}/undo", form).status_code == 400


def test_ticking_twice_says_it_was_done_already(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Once")
    browser = browse(alice)
    browser.post(f"/tasks/{task['id']}/done", {"done": "true"})

    again = browser.post(f"/tasks/{task['id']}/done", {"done": "true"}, follow_redirects=True)

    assert "“Once” was done already." in again.get_data(as_text=True)
    assert _task(api, alice, task["id"])["status"] == "completed"


def test_the_script_gets_json_and_its_undo_works_the_same_way(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Scripted")
    browser = browse(alice)

    ticked = browser.post(f"/tasks/{task['id']}/done", {"done": "true"}, headers=JSON)

    assert ticked.status_code == 200
    body = ticked.get_json()
    now = _task(api, alice, task["id"])
    assert body["message"] == "“Scripted” done."
    assert (body["done"], body["updated_at"]) == (True, now["updated_at"])
    assert set(body["undo"]) == {"undo"}
    undone = browser.post(f"/tasks/{task['id']}/undo", body["undo"], headers=JSON)
    assert undone.status_code == 200
    assert undone.get_json()["done"] is False
    stale = browser.post(f"/tasks/{task['id']}/undo", body["undo"], headers=JSON)
    assert stale.status_code == 409
    assert "Undo left it as it is" in stale.get_json()["message"]


def test_task_page_has_the_toggle_and_so_has_its_live_fragment(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Here")
    browser = browse(alice)

    for path in (f"/tasks/{task['id']}", f"/tasks/{task['id']}/summary"):
        page = browser.get(path).get_data(as_text=True)
        assert f'action="/tasks/{task["id"]}/done"' in page
        assert f'name="next" value="/tasks/{task["id"]}"' in page


def test_a_forged_undo_cannot_put_a_task_where_the_api_would_not(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    """The Undo's previous state is the site's, signed: not the form's to choose."""
    weekly = {"due_date": "2026-12-07", "recurrence": {"rule": "FREQ=WEEKLY"}}
    task = create(api, alice, title="Bins", **weekly)
    other = create(api, alice, title="Other")
    browser = browse(alice)
    browser.post(f"/tasks/{task['id']}/done", {"done": "true"})
    action, undo = _undo_form(browser.get("/tasks").get_data(as_text=True))
    etag = api.get(f"/api/tasks/{task['id']}", alice.token).headers["ETag"].strip('"')
    forged = {"status": "completed", "due_date": "2026-12-09", "due_time": "", "etag": etag}

    for form in (forged, {**undo, **forged}):
        browser.post(action, form)
    assert browser.post(f"/tasks/{other['id']}/undo", undo).status_code == 400  # not its
    assert browser.post(action, forged, headers=JSON).status_code == 400

    back = _task(api, alice, task["id"])
    assert (back["status"], back["due_date"]) == ("pending", "2026-12-07")  # the real Undo
    assert _task(api, alice, other["id"])["status"] == "pending"


@pytest.mark.parametrize("mode", ["after_completion", "schedule"])
def test_after_undo_the_reopened_occurrence_can_be_completed_by_its_key(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, mode: str
) -> None:
    recurrence = {"rule": "FREQ=DAILY", "mode": mode}
    task = create(api, alice, title="Water", due_date="2026-11-30", recurrence=recurrence)
    browser = browse(alice)
    browser.post(f"/tasks/{task['id']}/done", {"done": "true"})
    action, undo = _undo_form(browser.get("/tasks").get_data(as_text=True))
    browser.post(action, undo)
    assert _task(api, alice, task["id"])["due_date"] == "2026-11-30"

    done = api.post(
        f"/api/tasks/{task['id']}/complete", alice.token, json={"occurrence": "2026-11-30"}
    )

    assert done.status_code == 200
    assert _task(api, alice, task["id"])["due_date"] != "2026-11-30"
    again = api.post(
        f"/api/tasks/{task['id']}/complete", alice.token, json={"occurrence": "2026-11-30"}
    )
    assert again.status_code == 200  # a retry of that key is still "done already"
    assert _task(api, alice, task["id"])["due_date"] == done.get_json()["due_date"]


def test_a_second_tick_of_the_same_occurrence_is_done_already_not_the_next_one(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    recurrence = {"rule": "FREQ=DAILY"}
    task = create(api, alice, title="Stretch", due_date="2030-12-01", recurrence=recurrence)
    browser = browse(alice)
    row = browser.get("/tasks").get_data(as_text=True)
    assert '<input type="hidden" name="occurrence" value="2030-12-01">' in row
    form = {"done": "true", "occurrence": "2030-12-01"}  # as the row shows it, twice

    browser.post(f"/tasks/{task['id']}/done", form)
    again = browser.post(f"/tasks/{task['id']}/done", form, follow_redirects=True)

    assert "“Stretch” was done already." in again.get_data(as_text=True)
    assert _task(api, alice, task["id"])["due_date"] == "2030-12-02"
    scripted = browser.post(f"/tasks/{task['id']}/done", form, headers=JSON)
    assert scripted.get_json()["message"] == "“Stretch” was done already."
    assert _task(api, alice, task["id"])["due_date"] == "2030-12-02"
