"""Log lines: a client cannot forge one, whatever it puts in the URL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask

FORGED_PATH = "/api/tasks%0a127.0.0.1 - fake%0d%1b[31m%7f%c2%85%e2%80%a8"
ESCAPED_PATH = "/api/tasks\\x0a127.0.0.1 - fake\\x0d\\x1b[31m\\x7f\\x85\\u2028"


def test_plain_access_line_with_newline_in_the_path_is_one_escaped_line(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app()  # development's plain text format, writing to the captured stderr
    capsys.readouterr()

    response = app.test_client().get(FORGED_PATH, headers={"X-Request-Id": "trace-forge-1"})

    assert response.status_code == 404
    (access,) = [line for line in capsys.readouterr().err.splitlines() if "fake" in line]
    assert " doable.access: " in access
    assert "[trace-forge-1]" in access
    assert f"GET {ESCAPED_PATH} 404 " in access
    assert all(ch.isprintable() for ch in access)


def test_plain_access_line_escapes_a_backslash_so_escapes_stay_unambiguous(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app()
    capsys.readouterr()

    app.test_client().get("/api/tasks%5cx0afake")

    (access,) = [line for line in capsys.readouterr().err.splitlines() if "doable.access" in line]
    assert "GET /api/tasks\\\\x0afake 404 " in access


def test_json_access_line_keeps_the_path_exact_on_one_line(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(ENV="production")
    capsys.readouterr()

    app.test_client().get(FORGED_PATH)

    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    records = [json.loads(line) for line in lines]  # every line is a whole JSON document
    (access,) = [r for r in records if r["logger"] == "doable.access"]
    assert access["path"] == "/api/tasks\n127.0.0.1 - fake\r\x1b[31m\x7f\x85\u2028"
    assert access["status"] == 404
    assert all(ch.isprintable() for line in lines for ch in line)
