"""Task pages: the list and its filters, creating, the task page, editing, deleting,
and what each kind of access may see and do."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, share, stored_task
from tests.support.pages import Browser, field_errors, input_value
from tests.support.tasks import create

pytestmark = pytest.mark.usefixtures("app")
TASK_FORM = {
    "title": "Write the report",
    "description": "Numbers for Q3",
    "status": "in_progress",
    "priority": "high",
    "due_date": "2030-01-31",
    "categories": "work, Q3 ",
}


def _row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="task-row[^"]*" data-task-id="(\d+)"', html)]


def _edit_form(page: str) -> dict[str, str]:
    """The edit form's values as the page shows them (what a browser would send)."""
    version = re.search(r'id="version" name="version" type="hidden" value="([^"]*)"', page)
    assert version
    return {"version": version.group(1)}


# --- the list ---------------------------------------------------------------------------


def test_list_shows_own_and_shared_tasks_newest_first(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    first = create(api, alice, title="Mine")
    theirs = create(api, bob, title="Bob's")
    create(api, bob, title="Bob's secret")
    share(api, bob, theirs["id"], alice, "view")

    response = browse(alice).get("/tasks")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _row_ids(html) == [theirs["id"], first["id"]]
    assert "Bob&#39;s secret" not in html
    assert "Shared by bob · can view" in html


def test_list_marks_overdue_tasks_but_not_completed_or_future_ones(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    late = create(api, alice, title="Late", due_date="2020-01-01")
    create(api, alice, title="Done late", due_date="2020-01-01", status="completed")
    create(api, alice, title="Future", due_date="2999-01-01")

    html = browse(alice).get("/tasks").get_data(as_text=True)

    overdue = re.findall(r'class="task-row is-overdue" data-task-id="(\d+)"', html)
    assert overdue == [str(late["id"])]
    assert html.count("Overdue</strong>") == 1


def test_list_filters_by_every_form_field_and_keeps_the_values(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    match = create(
        api, alice, title="Report draft", status="pending", priority="high",
        due_date="2030-05-10", categories=["work"],
    )  # fmt: skip
    create(
        api, alice, title="Report final", status="completed", priority="high", categories=["work"]
    )
    create(api, alice, title="Report other", status="pending", priority="low", categories=["work"])
    create(api, alice, title="Groceries", status="pending", priority="high", categories=["work"])
    query = {
        "q": "report", "status": "pending", "priority": "high", "category": "WORK",
        "due_after": "2030-05-01", "due_before": "2030-05-31", "overdue": "false",
        "scope": "owned", "sort": "due_date", "per_page": "25",
    }  # fmt: skip

    response = browse(alice).get("/tasks", query_string=query)

    assert response.status_code == 200
    assert _row_ids(response.get_data(as_text=True)) == [match["id"]]
    assert input_value(response, "q") == "report"
    assert input_value(response, "due_after") == "2030-05-01"
    html = response.get_data(as_text=True)
    assert '<option selected value="pending">' in html
    assert '<option selected value="due_date">' in html


def test_list_invalid_filters_show_errors_by_the_fields_not_a_500(
    browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).get(
        "/tasks", query_string={"status": "done", "due_before": "yesterday", "per_page": "500"}
    )

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert field_errors(response, "status") == ["Must be one of: pending, in_progress, completed."]
    assert field_errors(response, "due_before") == ["Not a valid date."]
    assert field_errors(response, "per_page") == [
        "Must be greater than or equal to 1 and less than or equal to 100."
    ]
    assert input_value(response, "due_before") == "yesterday"


def test_list_bad_page_number_says_so_above_the_filters(
    browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).get("/tasks", query_string={"page": "two"})

    assert response.status_code == 400
    assert "Page: Not a valid integer." in response.get_data(as_text=True)


def test_list_pagination_links_keep_the_filters(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    ids = [create(api, alice, title=f"Task {n}", priority="high")["id"] for n in range(12)]
    create(api, alice, title="Low one", priority="low")
    browser = browse(alice)

    first = browser.get("/tasks", query_string={"priority": "high", "sort": "title"})

    html = first.get_data(as_text=True)
    assert "page 1 of 2" in html
    next_link = re.search(r'rel="next" href="([^"]+)"', html)
    assert next_link
    second = browser.get(next_link.group(1).replace("&amp;", "&"))
    second_html = second.get_data(as_text=True)
    assert set(_row_ids(html)) | set(_row_ids(second_html)) == set(ids)
    assert "priority=high" in next_link.group(1)
    assert "sort=title" in next_link.group(1)
    assert re.search(r'rel="prev" href="[^"]*priority=high', second_html)


# --- creating ---------------------------------------------------------------------------


def test_new_task_form_creates_the_task_with_every_field(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)

    response = browser.post("/tasks/new", TASK_FORM)

    assert response.status_code == 302
    assert response.location == "/tasks/1"
    created = api.get("/api/tasks/1", alice.token).json
    assert {k: created[k] for k in ("title", "description", "status", "priority", "due_date")} == {
        "title": "Write the report", "description": "Numbers for Q3", "status": "in_progress",
        "priority": "high", "due_date": "2030-01-31",
    }  # fmt: skip
    assert created["categories"] == ["Q3", "work"]
    assert "Task “Write the report” created." in browser.get("/tasks/1").get_data(as_text=True)


def test_new_task_invalid_fields_show_errors_by_each_field_and_keep_values(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    form = {**TASK_FORM, "title": "x" * 201, "due_date": "31/01/2030", "status": "done"}

    response = browse(alice).post("/tasks/new", form)

    assert response.status_code == 400
    assert field_errors(response, "title") == ["Length must be between 1 and 200."]
    assert field_errors(response, "due_date") == ["Not a valid date."]
    assert field_errors(response, "status") == ["Must be one of: pending, in_progress, completed."]
    assert input_value(response, "title") == "x" * 201
    assert input_value(response, "categories") == "work, Q3 "
    assert "Numbers for Q3</textarea>" in response.get_data(as_text=True)
    assert stored_task(app, 1) is None


def test_new_task_text_with_nul_is_refused_like_the_api(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post("/tasks/new", {**TASK_FORM, "title": "a\x00b"})

    assert response.status_code == 400
    assert field_errors(response, "title") == [
        "Must be valid text: no NUL characters or lone surrogates."
    ]
    assert stored_task(app, 1) is None


def test_list_search_with_nul_is_refused_by_the_field(
    browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).get("/tasks?q=a%00b")

    assert response.status_code == 400
    assert field_errors(response, "q") == [
        "Must be valid text: no NUL characters or lone surrogates."
    ]


def test_new_task_blank_title_is_refused_like_the_api(
    app: Flask, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).post("/tasks/new", {**TASK_FORM, "title": "   "})

    assert response.status_code == 400
    assert field_errors(response, "title") == ["Must not be blank."]
    assert stored_task(app, 1) is None


# --- one task ---------------------------------------------------------------------------


def test_task_page_of_a_stranger_is_a_404_page(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, bob, title="Bob's secret")

    response = browse(alice).get(f"/tasks/{task['id']}")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Page not found" in html
    assert "secret" not in html


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/tasks/{id}"),
        ("get", "/tasks/{id}/delete"),
        ("post", "/tasks/{id}/delete"),
        ("post", "/tasks/{id}/share"),
        ("post", "/tasks/{id}/attachments"),
    ],
)
def test_stranger_writes_are_404_and_change_nothing(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    method: str, path: str,
) -> None:  # fmt: skip
    task = create(api, bob, title="Bob's")
    browser = browse(alice)
    url = path.format(id=task["id"])

    response = browser.post(url, {**TASK_FORM}) if method == "post" else browser.get(url)

    assert response.status_code == 404
    assert stored_task(app, task["id"])["title"] == "Bob's"  # type: ignore[index]


def test_owner_page_shows_edit_delete_share_and_upload_controls(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Mine")

    html = browse(alice).get(f"/tasks/{task['id']}").get_data(as_text=True)

    assert f'action="/tasks/{task["id"]}"' in html
    assert f'href="/tasks/{task["id"]}/delete"' in html
    assert f'action="/tasks/{task["id"]}/share"' in html
    assert f'action="/tasks/{task["id"]}/attachments"' in html


def test_view_sharee_page_has_no_edit_controls(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, bob, title="Bob's plan", description="Shared to read")
    share(api, bob, task["id"], alice, "view")

    response = browse(alice).get(f"/tasks/{task['id']}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Shared to read" in html
    main = html.split("</header>", 1)[1]
    assert re.findall(r'<form[^>]*action="([^"]*)"', main) == [f"/tasks/{task['id']}/leave"]
    assert "/delete" not in html
    assert "you can view" in html


def test_edit_sharee_page_has_edit_and_upload_but_no_delete_or_share(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, bob, title="Bob's plan")
    share(api, bob, task["id"], alice, "edit")

    html = browse(alice).get(f"/tasks/{task['id']}").get_data(as_text=True)

    assert f'action="/tasks/{task["id"]}"' in html
    assert f'action="/tasks/{task["id"]}/attachments"' in html
    assert f'href="/tasks/{task["id"]}/delete"' not in html
    assert f'action="/tasks/{task["id"]}/share"' not in html


def test_view_sharee_forged_edit_is_a_403_page_and_changes_nothing(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, bob, title="Bob's plan")
    share(api, bob, task["id"], alice, "view")

    response = browse(alice).post(f"/tasks/{task['id']}", {**TASK_FORM, "title": "Hijacked"})

    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "You cannot do that" in response.get_data(as_text=True)
    assert stored_task(app, task["id"])["title"] == "Bob's plan"  # type: ignore[index]


@pytest.mark.parametrize("permission", ["view", "edit"])
def test_sharee_forged_delete_is_a_403_page_and_keeps_the_task(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account,
    permission: str,
) -> None:  # fmt: skip
    task = create(api, bob, title="Bob's plan")
    share(api, bob, task["id"], alice, permission)

    response = browse(alice).post(f"/tasks/{task['id']}/delete")

    assert response.status_code == 403
    assert stored_task(app, task["id"]) is not None


# --- editing ----------------------------------------------------------------------------


def test_edit_saves_the_changed_fields(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Old", categories=["home"])
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)

    response = browser.post(f"/tasks/{task['id']}", {**TASK_FORM, **_edit_form(page)})

    assert response.status_code == 302
    assert response.location == f"/tasks/{task['id']}"
    saved = api.get(f"/api/tasks/{task['id']}", alice.token).json
    assert (saved["title"], saved["status"], saved["due_date"]) == (
        "Write the report", "in_progress", "2030-01-31",
    )  # fmt: skip
    assert saved["categories"] == ["Q3", "work"]


def test_edit_by_edit_sharee_saves(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task = create(api, bob, title="Bob's plan")
    share(api, bob, task["id"], alice, "edit")
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)

    response = browser.post(f"/tasks/{task['id']}", {**TASK_FORM, **_edit_form(page)})

    assert response.status_code == 302
    assert stored_task(app, task["id"])["title"] == "Write the report"  # type: ignore[index]


def test_edit_invalid_field_shows_error_and_keeps_the_typed_values(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Old")
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    form = {**TASK_FORM, **_edit_form(page), "title": "", "description": "typed text"}

    response = browser.post(f"/tasks/{task['id']}", form)

    assert response.status_code == 400
    assert field_errors(response, "title") == [
        "Length must be between 1 and 200.",
        "Must not be blank.",
    ]
    assert "typed text</textarea>" in response.get_data(as_text=True)
    assert stored_task(app, task["id"])["title"] == "Old"  # type: ignore[index]


def test_edit_of_a_task_changed_meanwhile_is_refused_and_keeps_both_versions(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Original")
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "Changed elsewhere"})

    response = browser.post(
        f"/tasks/{task['id']}", {**TASK_FORM, **_edit_form(page), "title": "My edit"}
    )

    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Someone changed this task after you opened it" in html
    assert '<h1 data-field="title">Changed elsewhere</h1>' in html
    assert input_value(response, "title") == "My edit"
    assert stored_task(app, task["id"])["title"] == "Changed elsewhere"  # type: ignore[index]
    retry = browser.post(
        f"/tasks/{task['id']}", {**TASK_FORM, **_edit_form(html), "title": "My edit"}
    )
    assert retry.status_code == 302
    assert stored_task(app, task["id"])["title"] == "My edit"  # type: ignore[index]


def test_edit_without_a_version_is_refused(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Original")

    response = browse(alice).post(f"/tasks/{task['id']}", {**TASK_FORM, "title": "Blind"})

    assert response.status_code == 409
    assert stored_task(app, task["id"])["title"] == "Original"  # type: ignore[index]


def test_edit_with_nothing_changed_writes_nothing(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Same", categories=["Home"])
    browser = browse(alice)
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    before = stored_task(app, task["id"])
    form = {"title": "Same", "description": "", "status": "pending", "priority": "medium",
            "due_date": "", "categories": "home", **_edit_form(page)}  # fmt: skip

    response = browser.post(f"/tasks/{task['id']}", form)

    assert response.status_code == 302
    assert stored_task(app, task["id"]) == before


# --- deleting ---------------------------------------------------------------------------


def test_delete_get_asks_for_confirmation_and_keeps_the_task(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Keep me?")

    response = browse(alice).get(f"/tasks/{task['id']}/delete")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Delete the task “Keep me?”?" in html
    assert '<form method="post"' in html
    assert stored_task(app, task["id"]) is not None


def test_delete_post_deletes_the_task_and_goes_to_the_list(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task = create(api, alice, title="Bye")
    browser = browse(alice)

    response = browser.post(f"/tasks/{task['id']}/delete")

    assert response.status_code == 302
    assert response.location == "/tasks"
    assert stored_task(app, task["id"]) is None
    assert "Task “Bye” deleted." in browser.get("/tasks").get_data(as_text=True)


def test_overdue_property_agrees_with_the_overdue_filter(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    for due, status in [("2020-01-01", "pending"), ("2020-01-01", "completed"),
                        ("2999-01-01", "pending"), (None, "pending")]:  # fmt: skip
        create(api, alice, due_date=due, status=status)
    listed = {t["id"] for t in api.get("/api/tasks?overdue=true", alice.token).json["tasks"]}
    with app.app_context():
        from doable.extensions import db

        flagged = {task.id for task in db.session.query(Task) if task.overdue}
    assert flagged == listed == {1}
