"""The socket Origin check compares origins, not strings."""

from __future__ import annotations

import pytest

from doable.realtime.sockets import origin_checker

BEHIND_PROXY = {"wsgi.url_scheme": "https", "HTTP_HOST": "tasks.example.com:443"}
DIRECT = {"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:5000"}


@pytest.mark.parametrize(
    ("origin", "environ", "allowed"),
    [
        ("https://tasks.example.com", BEHIND_PROXY, True),
        ("https://TASKS.example.com:443", BEHIND_PROXY, True),
        ("http://tasks.example.com", BEHIND_PROXY, False),
        ("https://tasks.example.com:8443", BEHIND_PROXY, False),
        ("https://tasks.example.com.evil.net", BEHIND_PROXY, False),
        ("http://127.0.0.1:5000", DIRECT, True),
        ("http://127.0.0.1", DIRECT, False),
        ("null", DIRECT, False),
        ("http://[::1", DIRECT, False),
        ("https://app.example.org", DIRECT, True),  # on the allow-list
        ("https://app.example.org:444", DIRECT, False),
        (None, DIRECT, True),  # no Origin: not a browser, it needs a token
    ],
)
def test_origins_are_compared_with_default_ports_filled_in(origin, environ, allowed):
    check = origin_checker(["https://app.example.org"])
    assert check(origin, environ) is allowed
