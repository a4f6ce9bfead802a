"""The deployment files (Dockerfile, compose.yaml, Procfile, docs/deploy.md) cannot be
built or run here; this keeps every ``doable`` command line in them honest: each names
a real command with options it really has, and the limits they quote match the code."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import click
import pytest

from doable.cli import serve_command
from doable.config import DEFAULTS
from tests.support.servers import DOABLE

ROOT = Path(__file__).resolve().parents[2]
SHELL_VALUES = {"$PORT": "5000", "%i": "5001"}  # %i: the systemd template unit's port


def _doable_lines() -> list[tuple[str, list[str]]]:
    """(where, argv after "doable") of every doable command line in the files."""
    found: list[tuple[str, list[str]]] = []
    for name in ("Dockerfile", "compose.yaml"):
        for match in re.finditer(r'(?:CMD|command:)\s*(\["doable".*\])', (ROOT / name).read_text()):
            found.append((name, json.loads(match.group(1))[1:]))
    for line in (ROOT / "Procfile").read_text().splitlines():
        found.append(("Procfile", _words(line.split(":", 1)[1])))
    for line in (ROOT / "docs" / "deploy.md").read_text().splitlines():
        match = re.search(
            r"(?:^|\s|=)(?:/opt/doable/bin/)?doable "
            r"((?:serve|db|create-user|attachments|changes|worker)\b.*)",
            line,
        )
        if match and not line.lstrip().startswith(("#", "-", "`")):
            found.append(("docs/deploy.md", _words(match.group(1).split("#")[0])))
    return found


def _words(text: str) -> list[str]:
    for name, value in SHELL_VALUES.items():
        text = text.replace(name, value)
    words = shlex.split(text)
    return words[1:] if words and words[0] == "doable" else words


LINES = _doable_lines()


def test_the_files_name_doable_commands_at_all():
    places = {where for where, _ in LINES}
    assert places == {"Dockerfile", "compose.yaml", "Procfile", "docs/deploy.md"}
    assert sum(argv[0] == "serve" for _, argv in LINES) >= 5


@pytest.mark.parametrize(("where", "argv"), LINES, ids=[" ".join(a) for _, a in LINES])
def test_each_command_line_parses(where: str, argv: list[str]):
    if argv[0] == "serve":
        try:
            serve_command.make_context("serve", argv[1:])
        except click.UsageError as exc:
            pytest.fail(f"{where}: doable {' '.join(argv)}: {exc}")
        return
    command = [a for a in argv if not a.startswith("-")][:2]
    if command[0] == "create-user":
        command = command[:1]
    done = subprocess.run(
        [DOABLE, *command, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{where}: doable {' '.join(command)}: {done.stderr}"


def test_the_container_runs_as_a_user_of_its_own():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")


def test_nginx_takes_exactly_the_largest_body_doable_takes(app):
    match = re.search(r"client_max_body_size (\d+)m;", (ROOT / "docs/deploy.md").read_text())
    assert match
    assert int(match.group(1)) * 1024 * 1024 == app.config["MAX_CONTENT_LENGTH"]
    assert DEFAULTS["MAX_UPLOAD_SIZE"] == 10 * 1024 * 1024  # the page says "10 MiB"


def _nginx_config() -> str:
    page = (ROOT / "docs/deploy.md").read_text()
    start = page.index("```nginx")
    return page[start : page.index("```", start + 3)]


def test_nginx_passes_websocket_upgrades_for_socket_io():
    config = _nginx_config()
    assert re.search(r"proxy_set_header Upgrade\s+\$http_upgrade;", config)
    assert re.search(r"proxy_set_header Connection\s+\$connection_upgrade;", config)
    assert "proxy_http_version 1.1;" in config


def test_no_nginx_location_sets_headers_of_its_own():
    """A location with any proxy_set_header inherits none from the server block: the
    forwarding headers Doable needs would silently vanish there."""
    for block in re.findall(r"location [^{]+\{([^}]*)\}", _nginx_config()):
        assert "proxy_set_header" not in block


def test_release_phase_migrates():
    assert "release: doable db upgrade" in (ROOT / "Procfile").read_text().splitlines()
