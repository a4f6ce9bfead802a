"""Rules every page keeps: CSRF on every form, error pages in the layout (while the API
and the probes keep Problem Details), a strict CSP with nothing inline."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from doable import create_app
from doable.security import HTML_CSP
from tests.conftest import base_config
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.pages import Browser, csrf_token

_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?[^<>]+>")
INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),  # inline script
    re.compile(r"\sstyle\s*=", re.I),  # style attribute
    re.compile(r"<style", re.I),  # style element
    re.compile(r"\son[a-z]+\s*=", re.I),  # event handler attribute
    re.compile(r"javascript:", re.I),
]


def _web_posts(app: Flask) -> list[str]:
    return sorted(
        _RULE_ARGUMENT.sub("1", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("web.") and "POST" in (rule.methods or ())
    )


def _boom() -> None:
    raise RuntimeError("secret internals")


# --- CSRF -------------------------------------------------------------------------------


def test_every_page_form_route_refuses_a_post_without_token(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)
    # The upload route checks the task before the body (and its token): give it hers.
    own = api.post("/api/tasks", alice.token, json={"title": "Mine"}).json["id"]
    upload = "/tasks/1/attachments"
    routes = [f"/tasks/{own}/attachments" if r == upload else r for r in _web_posts(app)]
    assert f"/tasks/{own}/attachments" in routes

    refused = {path: browser.client.post(path, data={}).status_code for path in routes}

    assert len(routes) >= 14
    assert refused == dict.fromkeys(routes, 400)


def test_post_without_token_is_an_html_page_and_changes_nothing(
    app: Flask, api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).client.post("/tasks/new", data={"title": "Forged"})

    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "This form has expired or was not sent from this site" in response.get_data(as_text=True)
    assert api.get("/api/tasks", alice.token).json["total"] == 0


def test_token_of_another_session_is_refused(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    attacker = browse(bob)

    response = browse(alice).client.post(
        "/tasks/new", data={"csrf_token": attacker.token(), "title": "Forged"}
    )

    assert response.status_code == 400
    assert api.get("/api/tasks", alice.token).json["total"] == 0


def test_login_form_refuses_a_post_without_token(
    browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse()

    response = browser.client.post("/login", data={"login": "alice", "password": alice.password})

    assert response.status_code == 400
    assert "user_id" not in browser.session()


def test_api_with_bearer_token_needs_no_csrf_token_even_with_a_session_cookie(
    browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse(alice)  # this client now carries a session cookie

    response = browser.client.post(
        "/api/tasks", json={"title": "Via API"}, headers={"Authorization": f"Bearer {alice.token}"}
    )

    assert response.status_code == 201


def test_api_ignores_the_session_cookie(browse: Callable[..., Browser], alice: Account) -> None:
    browser = browse(alice)

    response = browser.client.post("/api/tasks", json={"title": "Cookie only"})

    assert_problem(response, 401)


# --- error pages ------------------------------------------------------------------------


def test_unknown_page_is_a_404_page_in_the_layout(
    browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).get("/no-such-page")

    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in html
    assert 'class="site-header"' in html
    assert ">alice</a>" in html


def test_unknown_api_route_is_still_a_problem_document(client) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get("/api/no-such-thing"), 404)


def test_probes_still_answer_json(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").mimetype == "application/json"


def test_wrong_method_on_a_page_is_a_405_page(
    browse: Callable[..., Browser], alice: Account
) -> None:
    response = browse(alice).client.put("/tasks/new")

    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "That does not work here" in response.get_data(as_text=True)


def test_body_over_the_limit_on_a_page_is_a_413_page(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_UPLOAD_SIZE=1)
    limit = app.config["MAX_CONTENT_LENGTH"]
    api = ApiClient(app.test_client())
    alice = api.account("alice")
    own = api.post("/api/tasks", alice.token, json={"title": "Mine"}).json["id"]
    browser = Browser(app.test_client())
    browser.login(alice)

    response = browser.client.post(
        f"/tasks/{own}/attachments",
        data=b"x" * (limit + 1),
        content_type="application/octet-stream",
    )

    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "That is too large" in response.get_data(as_text=True)


def test_unexpected_error_on_a_page_is_a_500_page_with_the_request_id(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    app.add_url_rule("/_boom", view_func=_boom)

    response = app.test_client().get("/_boom", headers={"X-Request-Id": "trace-page-1"})

    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "Something went wrong" in html
    assert "trace-page-1" in html
    assert "secret internals" not in html
    assert "Traceback" not in html


def test_unexpected_error_on_an_api_route_is_still_a_problem_document(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    app.add_url_rule("/api/_boom", view_func=_boom)

    assert_problem(app.test_client().get("/api/_boom"), 500)


def test_page_while_the_database_is_down_is_a_503_page(tmp_path: Path) -> None:
    config = base_config("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    client = create_app(config).test_client()
    with client.session_transaction() as session:
        session.update(user_id=1, auth_session_id="a" * 32)

    response = client.get("/tasks")

    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "The database is unavailable" in response.get_data(as_text=True)
    assert response.headers["Retry-After"]


# --- what every page is made of -----------------------------------------------------------


def test_every_page_has_the_strict_csp_and_nothing_inline(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    api.post("/api/tasks", alice.token, json={"title": "T", "categories": ["c"]})
    api.post(
        "/api/tasks/1/attachments",
        alice.token,
        data={"file": (io.BytesIO(b"x"), "a.txt")},
        content_type="multipart/form-data",
    )
    signed_in = browse(alice)
    pages = {
        path: signed_in.get(path)
        for path in ["/tasks", "/tasks?status=bad", "/tasks/new", "/tasks/1", "/tasks/1/delete",
                     "/tasks/1/attachments/1/delete", "/categories", "/categories/1/delete",
                     "/account", "/account/delete", "/logout", "/nothing-here"]
    }  # fmt: skip
    anonymous = browse()
    pages.update({path: anonymous.get(path) for path in ["/login", "/register"]})

    for path, response in pages.items():
        html = response.get_data(as_text=True)
        assert response.mimetype == "text/html", path
        assert response.headers["Content-Security-Policy"] == HTML_CSP, path
        assert [p.pattern for p in INLINE if p.search(html)] == [], path
        assert html.count("<main") == 1, path
        assert response.status_code < 500, path


def test_every_form_field_has_a_label(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    api.post("/api/tasks", alice.token, json={"title": "T"})
    api.post("/api/categories", alice.token, json={"name": "c"})
    browser = browse(alice)
    for path in ["/tasks", "/tasks/new", "/tasks/1", "/categories", "/account", "/account/delete"]:
        html = browser.get(path).get_data(as_text=True)
        fields = re.findall(r"<(?:input|select|textarea)\b([^>]*)>", html)
        ids = [
            re.search(r'\bid="([^"]+)"', attrs).group(1)  # type: ignore[union-attr]
            for attrs in fields
            if 'type="hidden"' not in attrs and "aria-label=" not in attrs  # labelled itself
        ]
        assert ids, path
        for field_id in ids:
            assert f'for="{field_id}"' in html, f"{path}: #{field_id} has no label"


def test_static_assets_are_served_from_the_package(client) -> None:  # type: ignore[no-untyped-def]
    with client.get("/static/style.css") as css, client.get("/static/live/page.js") as js:
        assert css.status_code == 200
        assert css.mimetype == "text/css"
        assert js.status_code == 200
        assert js.mimetype in ("text/javascript", "application/javascript")


def test_csrf_token_is_in_every_post_form(
    api: ApiClient, browse: Callable[..., Browser], alice: Account
) -> None:
    api.post("/api/tasks", alice.token, json={"title": "T"})
    browser = browse(alice)
    for path in ["/tasks/new", "/tasks/1", "/categories", "/account", "/tasks/1/delete"]:
        html = browser.get(path).get_data(as_text=True)
        forms = re.findall(r'<form method="post".*?</form>', html, re.S)
        assert forms, path
        for form in forms:
            assert csrf_token(form), path


# --- caching ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/tasks", "/account", "/categories"])
def test_pages_of_a_web_login_are_no_store(
    browse: Callable[..., Browser], alice: Account, path: str
) -> None:
    page = browse(alice).get(path)

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "alice" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


def test_the_login_page_and_the_login_itself_are_no_store(
    browse: Callable[..., Browser], alice: Account
) -> None:
    browser = browse()
    form = browser.get("/login")  # its CSRF token belongs to this browser's cookie

    signed_in = browser.login(alice)

    assert form.status_code == 200
    assert form.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" in signed_in.headers
    assert signed_in.headers["Cache-Control"] == "no-store"


def test_an_error_page_for_a_signed_in_user_on_a_public_path_is_no_store(
    browse: Callable[..., Browser], alice: Account
) -> None:
    page = browse(alice).get("/static/no-such-file.css")

    assert page.status_code == 404
    assert page.headers["Cache-Control"] == "no-store"


def test_the_api_docs_page_for_a_signed_in_user_is_no_store(
    browse: Callable[..., Browser], alice: Account
) -> None:
    page = browse(alice).get("/api/docs")  # its template could show who is signed in

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
