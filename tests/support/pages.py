"""A person using the web pages through Flask's test client: cookies kept, and the
CSRF token read from a page as a browser would send it back."""

from __future__ import annotations

import html as html_module
import re
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.factories import Account

_CSRF = re.compile(r'name="csrf_token"[^>]*\bvalue="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def steady(html: str) -> str:
    """``html`` with its CSRF tokens (their signature holds the second they were made)
    as one placeholder, so two renderings of the same markup compare equal."""
    return _CSRF_VALUE.sub('name="csrf_token" value="…"', html)


_CSRF_VALUE = re.compile(r'name="csrf_token" value="[^"]+"')


def field_errors(response: TestResponse, field_id: str) -> list[str]:
    """The messages shown under the field with this id."""
    html = response.get_data(as_text=True)
    block = re.search(
        rf'<ul class="field-errors" id="{re.escape(field_id)}-errors">(.*?)</ul>', html, re.S
    )
    return (
        [html_module.unescape(m) for m in re.findall(r"<li>(.*?)</li>", block.group(1))]
        if block
        else []
    )


def input_value(response: TestResponse, field_id: str) -> str | None:
    html = response.get_data(as_text=True)
    tag = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    if tag is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


class Browser:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def token(self) -> str:
        """A token for this browser's session, from a page that has one."""
        page = self.client.get("/tasks", follow_redirects=True)
        return csrf_token(page.get_data(as_text=True))

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        """Submit a form as the site's own page would: with the CSRF token."""
        return self.client.post(path, data={"csrf_token": self.token(), **(data or {})}, **kwargs)

    def login(self, account: Account) -> TestResponse:
        response = self.post("/login", {"login": account.username, "password": account.password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def session(self) -> dict[str, Any]:
        with self.client.session_transaction() as session:
            return dict(session)
