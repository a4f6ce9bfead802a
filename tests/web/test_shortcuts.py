"""The keyboard shortcuts' list and script (templates/_shortcuts.html, static/keys.js) are
on every page of a signed-in person, once, at the site's prefix; without JavaScript
nothing offers them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser

DIALOG = '<dialog id="shortcuts"'
SCRIPT = 'id="keys-script"'


def _pages_without_arguments(app: Flask) -> list[str]:
    """Every page route that needs no id: new pages are checked as they are added."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("web.") and "GET" in (rule.methods or ()) and not rule.arguments
    )


def test_every_page_of_a_signed_in_person_has_the_shortcuts_once(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    task_id = api.post("/api/tasks", alice.token, json={"title": "T"}).json["id"]
    browser = browse(alice)
    paths = [*_pages_without_arguments(app), f"/tasks/{task_id}", f"/tasks/{task_id}/delete"]

    pages = {path: browser.get(path) for path in [*paths, "/nothing-here"]}
    # Every path answers a page, a redirect or "not found", never an error page that
    # would be dropped below unseen; the quick add's preview is a fragment, which
    # refuses an empty line.
    answers = {path: response.status_code for path, response in pages.items()}
    assert answers.pop("/tasks/quick/preview") == 400
    assert {path: status for path, status in answers.items() if status not in (200, 302, 404)} == {}
    html_pages = {
        path: response.get_data(as_text=True)
        for path, response in pages.items()
        if response.mimetype == "text/html" and response.status_code in (200, 404)
    }

    assert {"/tasks", "/tasks/new", "/account", "/categories", "/nothing-here"} <= set(html_pages)
    for path, html in html_pages.items():
        assert html.count(DIALOG) == 1, path
        assert html.count(SCRIPT) == 1, path
        assert html.count('id="shortcuts-open"') == 1, path
        assert '<p class="shortcuts-hint" hidden>' in html, path  # shown by the script


@pytest.mark.parametrize("path", ["/login", "/register"])
def test_pages_of_nobody_have_no_shortcuts(browse: Callable[..., Browser], path: str) -> None:
    html = browse().get(path).get_data(as_text=True)

    assert DIALOG not in html
    assert SCRIPT not in html


def test_the_script_finds_the_new_task_page_under_the_site_prefix(
    browse: Callable[..., Browser], alice: Account
) -> None:
    html = (
        browse(alice)
        .get("/tasks", environ_overrides={"SCRIPT_NAME": "/doable"})
        .get_data(as_text=True)
    )

    assert 'src="/doable/static/keys.js"' in html
    assert 'data-new-url="/doable/tasks/new"' in html


def test_the_shortcuts_script_is_served(client) -> None:  # type: ignore[no-untyped-def]
    with client.get("/static/keys.js") as script:
        assert script.status_code == 200
        assert script.mimetype in ("text/javascript", "application/javascript")
