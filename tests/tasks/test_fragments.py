"""The fragments the live pages fetch (static/live/page.js): a task's row and summary,
rendered by the very macros the list and the task page use, behind the same guard."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser, steady

pytestmark = pytest.mark.usefixtures("app")


def _task(api: ApiClient, owner: Account, title: str = "A task") -> int:
    response = api.post(
        "/api/tasks",
        owner.token,
        json={"title": title, "due_date": "2020-01-02", "categories": ["home"]},
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _within(html: str, start: str, end: str) -> str:
    """The element of ``html`` that begins with ``start`` and ends at the first ``end``."""
    found = re.search(re.escape(start) + r".*?" + re.escape(end), html, re.DOTALL)
    assert found, start
    return found.group(0)


def test_row_is_the_task_row_of_the_list_page(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task_id = _task(api, alice, title="Pay <rent> & bills")
    browser = browse(alice)
    listed = browser.get("/tasks").get_data(as_text=True)

    response = browser.get(f"/tasks/{task_id}/row")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    row = response.get_data(as_text=True)
    assert row.startswith(f'<li class="task-row is-overdue" data-task-id="{task_id}">')
    assert row.endswith("</li>")
    assert steady(row) in steady(listed)  # the list's own markup, byte for byte
    assert "Pay &lt;rent&gt; &amp; bills" in row


def test_summary_is_the_summary_of_the_task_page(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task_id = _task(api, alice)
    browser = browse(alice)
    page = browser.get(f"/tasks/{task_id}").get_data(as_text=True)

    response = browser.get(f"/tasks/{task_id}/summary")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    summary = response.get_data(as_text=True)
    shown = _within(page, '<article class="card task-detail"', "</article>")
    assert steady(summary) == steady(shown)
    assert 'data-access="owner"' in summary


def test_fragments_show_a_sharee_the_task_as_their_pages_do(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    task_id = _task(api, alice)
    shared = api.post(
        f"/api/tasks/{task_id}/share",
        alice.token,
        json={"username": bob.username, "permission": "view"},
    )
    assert shared.status_code == 201
    browser = browse(bob)

    row = browser.get(f"/tasks/{task_id}/row").get_data(as_text=True)
    summary = browser.get(f"/tasks/{task_id}/summary").get_data(as_text=True)

    assert f"Shared by {alice.username} · can view" in row
    assert 'data-access="view"' in summary
    assert "Delete…" not in summary
    assert summary == _within(
        browser.get(f"/tasks/{task_id}").get_data(as_text=True),
        '<article class="card task-detail"',
        "</article>",
    )


@pytest.mark.parametrize("fragment", ["row", "summary"])
def test_fragment_of_a_task_not_visible_is_a_404_page(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account, fragment: str
) -> None:
    task_id = _task(api, bob, title="Bob's secret")
    browser = browse(alice)

    hidden = browser.get(f"/tasks/{task_id}/{fragment}")
    missing = browser.get(f"/tasks/{task_id + 100}/{fragment}")

    for response in (hidden, missing):
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "secret" not in response.get_data(as_text=True)


@pytest.mark.parametrize("fragment", ["row", "summary"])
def test_fragment_for_nobody_signed_in_sends_to_the_login_page(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, fragment: str
) -> None:
    task_id = _task(api, alice, title="Private plan")

    response = browse().get(f"/tasks/{task_id}/{fragment}")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/tasks/{task_id}/{fragment}"
    assert "Private plan" not in response.get_data(as_text=True)


def test_pages_give_their_script_the_urls_under_the_site_prefix(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task_id = _task(api, alice)
    browser = browse(alice)

    for path in ["/tasks", f"/tasks/{task_id}"]:
        html = browser.get(path, environ_overrides={"SCRIPT_NAME": "/doable"}).get_data(
            as_text=True
        )
        found = re.search(r'<script [^>]*id="live-script"[^>]*>', html)  # among others
        assert found, path
        script = found.group(0)
        assert 'src="/doable/static/live/page.js"' in script, path
        assert 'data-socket-url="/doable/socket.io/"' in script, path
        assert 'data-row-url="/doable/tasks/{task_id}/row"' in script, path
        assert 'data-summary-url="/doable/tasks/{task_id}/summary"' in script, path
