"""The list's bulk form (tasks/_bulk.html): one action on the ticked rows, back to the
list as it was with a sentence saying what happened; a deletion asks first."""

from __future__ import annotations

import html as html_module
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks.bulk_form import CATEGORY_TYPED, NOT_TASKS, NOTHING_CHOSEN
from tests.support.factories import Account, ApiClient, share, stored_task
from tests.support.pages import Browser
from tests.support.tasks import create

pytestmark = pytest.mark.usefixtures("app")
LIST = "/tasks?status=pending&sort=title"


def flashes(html: str) -> list[str]:
    found = re.findall(r'<p class="flash flash-(\w+)" role="status">(.*?)</p>', html, re.S)
    return [f"{kind}: {html_module.unescape(text)}" for kind, text in found]


def send(browser: Browser, action: str, ids: list[int], **fields: Any) -> Any:
    return browser.post("/tasks/bulk", {"action": action, "task_ids": ids, "next": LIST, **fields})


def after(browser: Browser, response: Any) -> list[str]:
    """The flashes of the page the answer redirects to, which must be the list as it was."""
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == LIST
    return flashes(browser.get(LIST).get_data(as_text=True))


def test_list_page_has_the_bulk_form_with_its_token_and_way_back(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    create(api, alice)

    html = browse(alice).get(LIST).get_data(as_text=True)

    form = re.search(r'<form id="bulk-form".*?</form>', html, re.S)
    assert form
    assert 'action="/tasks/bulk"' in form.group(0)
    assert 'name="csrf_token"' in form.group(0)
    assert f'name="next" value="{html_module.escape(LIST)}"' in form.group(0)
    assert 'list="category-names"' in form.group(0)
    assert 'name="task_ids"' in html  # the rows' boxes, form="bulk-form"
    assert "tasks/bulk.js" in html


def test_complete_selected_commits_the_allowed_and_names_the_refused(
    api: ApiClient, app: Flask, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    mine = [create(api, alice, title=f"mine {n}")["id"] for n in range(3)]
    viewed = create(api, bob, title="Bob's plan")["id"]
    share(api, bob, viewed, alice, "view")
    browser = browse(alice)

    shown = after(browser, send(browser, "complete", [*mine, viewed]))

    assert shown == ["error: 3 tasks completed; 1 could not be: you can only view “Bob's plan”."]
    assert [stored_task(app, i)["status"] for i in mine] == ["completed"] * 3  # type: ignore[index]
    assert stored_task(app, viewed)["status"] == "pending"  # type: ignore[index]


def test_complete_again_says_already_completed(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    done = create(api, alice, status="completed")["id"]
    browser = browse(alice)

    shown = after(browser, send(browser, "complete", [done]))

    assert shown == ["success: 0 tasks completed; 1 already completed."]


def test_forged_ids_of_others_tasks_change_nothing(
    api: ApiClient, app: Flask, browse: Callable[..., Browser], alice: Account, carol: Account
) -> None:
    theirs = create(api, carol, title="Carol's")["id"]
    browser = browse(alice)

    for action in ("complete", "delete"):
        shown = after(browser, send(browser, action, [theirs], confirmed="yes"))
        assert shown == [
            f"error: 0 tasks {action}d; 1 could not be: task {theirs} is not one you can see."
        ]
    assert stored_task(app, theirs)["status"] == "pending"  # type: ignore[index]


def test_delete_asks_first_then_the_confirmed_form_deletes(
    api: ApiClient, app: Flask, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    mine = create(api, alice, title="Old notes")["id"]
    edited = create(api, bob, title="Bob's list")["id"]
    share(api, bob, edited, alice, "edit")
    browser = browse(alice)

    asked = send(browser, "delete", [mine, edited])

    page = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert "Delete 2 tasks?" in page
    assert "“Old notes”" in page
    assert "“Bob&#39;s list”: shared with you, only its owner can delete it" in page
    assert re.findall(r'name="task_ids" value="(\d+)"', page) == [str(mine), str(edited)]
    assert stored_task(app, mine) is not None  # nothing deleted yet

    shown = after(browser, send(browser, "delete", [mine, edited], confirmed="yes"))

    assert shown == [
        "error: 1 task deleted; 1 could not be: only the owner can delete “Bob's list”."
    ]
    assert stored_task(app, mine) is None
    assert stored_task(app, edited) is not None


def test_add_and_remove_category(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    ids = [create(api, alice)["id"] for _ in range(2)]
    browser = browse(alice)

    added = after(browser, send(browser, "add_category", ids, category=" home "))
    removed = after(browser, send(browser, "remove_category", ids[:1], category="HOME"))

    assert added == ["success: 2 tasks given “home”."]
    assert removed == ["success: 1 task taken out of “HOME”."]
    categories = [api.get(f"/api/tasks/{i}", alice.token).get_json()["categories"] for i in ids]
    assert categories == [[], ["home"]]


@pytest.mark.parametrize(
    ("action", "ids", "fields", "message"),
    [
        ("complete", [], {}, NOTHING_CHOSEN),
        ("complete", ["1x"], {}, "The selection names something that is not a task."),
        ("complete", ["²"], {}, NOT_TASKS),
        ("complete", ["٣"], {}, NOT_TASKS),
        ("complete", ["1", " 2"], {}, NOT_TASKS),
        ("complete", ["1" * 11], {}, NOT_TASKS),
        ("complete", [1], {"category": "home"}, CATEGORY_TYPED),
        ("add_category", [1], {"category": ""}, "Category: Name the category to add or remove."),
        ("add_category", [1], {"category": "a" * 51}, "Category: Length must be between 1 and 50."),
        ("explode", [1], {}, "Choose one of the actions."),
        ("complete", list(range(1, 102)), {}, "At most 100 tasks at once; select fewer."),
    ],
    ids=[
        "nothing",
        "not-an-id",
        "superscript-digit",
        "arabic-indic-digit",
        "spaced",
        "eleven-digits",
        "category-typed",
        "category-empty",
        "category-long",
        "bad-action",
        "101",
    ],
)
def test_refused_form_changes_nothing_and_says_why(
    api: ApiClient,
    app: Flask,
    browse: Callable[..., Browser],
    alice: Account,
    action: str,
    ids: list[Any],
    fields: dict[str, str],
    message: str,
) -> None:
    task = create(api, alice)["id"]
    browser = browse(alice)

    shown = after(browser, send(browser, action, ids, **fields))

    assert shown == [f"error: {message}"]
    assert stored_task(app, task)["status"] == "pending"  # type: ignore[index]


def test_delete_confirmation_reads_the_tasks_in_one_statement_however_many(
    api: ApiClient, app: Flask, browse: Callable[..., Browser], alice: Account, carol: Account
) -> None:
    """The page names each task, through the access rule (Carol's and a missing id are
    "not one you can see"), with as many statements for 12 ids as for 2. (Counted by
    hand: the ``statements`` fixture's app context would be every request's, and their
    CSRF tokens one.)"""
    mine = [create(api, alice, title=f"note {n}")["id"] for n in range(10)]
    theirs = create(api, carol, title="Carol's secret")["id"]
    browser = browse(alice)
    token = browser.token()
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    counts, page = [], ""
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for ids in ([mine[0], theirs], [*mine, theirs, 999_999]):
            seen.clear()
            data = {"csrf_token": token, "action": "delete", "task_ids": ids, "next": LIST}
            answer = browser.client.post("/tasks/bulk", data=data)
            page = answer.get_data(as_text=True)
            assert answer.status_code == 200, page
            counts.append(len(seen))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    assert counts[0] == counts[1] > 0
    assert "Delete 12 tasks?" in page
    assert all(f"“note {n}”" in page for n in range(10))
    assert "Carol" not in page
    assert f"Task {theirs}: not one you can see" in page
    assert "Task 999999: not one you can see" in page


def test_next_elsewhere_goes_back_to_the_list(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice)["id"]
    browser = browse(alice)

    response = browser.post(
        "/tasks/bulk", {"action": "complete", "task_ids": [task], "next": "//evil.example/x"}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/tasks"


def test_without_csrf_token_nothing_changes(
    api: ApiClient, app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice)["id"]
    browser = browse(alice)

    response = browser.client.post(
        "/tasks/bulk", data={"action": "delete", "task_ids": [task], "confirmed": "yes"}
    )

    assert response.status_code == 400
    assert stored_task(app, task) is not None
