"""Schemathesis against a live ``doable serve`` on PostgreSQL, with every check, two
users (so it also tries each one's objects as the other), a fixed seed and a time
budget: zero failures. Each finding it ever made is a test in the module of the behaviour
it concerns, marked "Found by schemathesis".

Left out, because they would end the identities the run uses: ``POST /api/logout`` and
``DELETE /api/me`` (both tested on their own). ``ensure_resource_availability`` is off:
sharing a task with an unknown user is 404 (docs/api.md, Sharing), which that check reads as the
task it just created having vanished.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import _create_postgres_database, _drop_postgres_database
from tests.support.servers import running_server, server_env

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent / "fuzz"
SCHEMATHESIS = str(Path(sys.executable).with_name("st"))
BUDGET = os.environ.get("DOABLE_FUZZ_SECONDS", "150")
#: CI runs the seed in fuzz/schemathesis.toml; ``DOABLE_FUZZ_SEED`` tries another by hand.
SEED = os.environ.get("DOABLE_FUZZ_SEED")
USERS = {"fuzz-alice": "fuzz-password-1", "fuzz-bob": "fuzz-password-2"}


@pytest.mark.timeout(int(BUDGET) + 240)
def test_schemathesis_finds_nothing(postgres_admin_engine, tmp_path: Path):
    name, database_url = _create_postgres_database(postgres_admin_engine)
    env = server_env(
        database_url,
        tmp_path,
        DOABLE_ENV="production",
        DOABLE_RATELIMIT_ENABLED="false",  # the limits have tests of their own
    )
    report = tmp_path / "schemathesis.txt"
    try:
        with running_server(env, log_path=tmp_path / "serve.log") as base:
            for username, password in USERS.items():
                body = {"username": username, "email": f"{username}@example.com"}
                registered = requests.post(
                    f"{base}/api/register", json={**body, "password": password}, timeout=10
                )
                assert registered.status_code == 201, registered.text
            with report.open("w") as out:
                done = subprocess.run(
                    [
                        SCHEMATHESIS,
                        "--config-file",
                        str(HERE / "schemathesis.toml"),
                        "run",
                        f"{base}/api/openapi.json",
                        "--checks",
                        "all",
                        "--exclude-checks",
                        "ensure_resource_availability",
                        "--exclude-path",
                        "/api/logout",
                        "--exclude-name",
                        "DELETE /api/me",
                        "--max-time",
                        BUDGET,
                        *(["--seed", SEED] if SEED else []),
                    ],
                    env={**os.environ, "DOABLE_FUZZ_WFC": str(HERE / "wfc.json"), "NO_COLOR": "1"},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=int(BUDGET) + 120,
                    check=False,
                )
        output = report.read_text()
        generated = re.search(r"(\d+) generated", output)
        seed = SEED or "from schemathesis.toml"
        print(f"schemathesis: {generated.group(0) if generated else '?'} (seed {seed})")
        assert done.returncode == 0, _failures(output)
        assert generated
        assert int(generated.group(1)) > 1000
        assert "Traceback" not in (tmp_path / "serve.log").read_text()
    finally:
        _drop_postgres_database(postgres_admin_engine, name)


def _failures(output: str) -> str:
    """The report's failures and errors, each line cut short (payloads can be huge)."""
    start = min(
        (i for i in (output.find("=== FAILURES"), output.find("=== ERRORS")) if i >= 0), default=0
    )
    end = output.find("=== WARNINGS", start)
    lines = output[start : end if end > 0 else None].splitlines()
    return "\n".join(line[:300] for line in lines if line.strip())[:20000]
