"""Where a request's time goes: the hot requests run in-process under cProfile.

Each scenario runs through Flask's test client against a fresh SQLite file in
production mode (no Redis, rate limits off, as bench/run.py serves it): no network and
no server, so what is left is Doable's own work per request. For each it prints, and
writes to ``bench/out/hotpaths-<stamp>/<scenario>.txt``: the SQL statements one request
runs, requests a second and CPU time a request without the profiler (CPU time holds
steadier than requests a second when other processes share the machine), and the
profile sorted by cumulative time. See bench/README.md.

    .venv/bin/python bench/hotpaths.py     # get one, put, first/filtered/last page, post
    .venv/bin/python bench/hotpaths.py --requests 500 put
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from doable import create_app
from doable.extensions import db

HERE = Path(__file__).resolve().parent
SECRET = "oRJFD-UXPfJVzG4R7twTdQ_JKDZqsEo7F1MIQ2kw24tdr_2h"  # as bench/run.py's
PASSWORD = "bench-password"
TASKS = 20


def make_client() -> tuple[Any, Any, dict[str, str], list[int]]:
    folder = tempfile.mkdtemp(prefix="doable-profile-")
    app = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": SECRET,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/profile.sqlite3",
            "REDIS_URL": None,
            "RATELIMIT_ENABLED": False,
            "UPLOAD_DIR": f"{folder}/uploads",
        }
    )
    logging.getLogger("doable.access").disabled = True  # its lines, not its cost
    with app.app_context():
        db.create_all()
    client = app.test_client()
    account = {"username": "bench", "email": "bench@example.com", "password": PASSWORD}
    assert client.post("/api/register", json=account).status_code == 201
    login = client.post("/api/login", json={"username": "bench", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {login.get_json()['token']}"}
    ids = [
        client.post("/api/tasks", json={"title": f"task {n}"}, headers=auth).get_json()["id"]
        for n in range(TASKS)
    ]
    return app, client, auth, ids


def scenarios(client: Any, auth: dict[str, str], ids: list[int]) -> dict[str, Callable[[int], Any]]:
    """Request ``n`` of each scenario. ``put`` flips a status on each pass over the
    tasks, so every request changes its task (a write of the same value writes nothing).
    The pages come before ``post``, which adds a task a request: the last page is the
    last of the ``TASKS`` tasks (read from the end of the list, ``service._window``)."""
    statuses = ["completed", "pending"]
    return {
        "get one": lambda n: client.get(f"/api/tasks/{ids[n % TASKS]}", headers=auth),
        "put": lambda n: client.put(
            f"/api/tasks/{ids[n % TASKS]}",
            json={"status": statuses[(n // TASKS) % 2]},
            headers=auth,
        ),
        "first page": lambda n: client.get("/api/tasks", headers=auth),
        "filtered page": lambda n: client.get("/api/tasks?priority=medium", headers=auth),
        "last page": lambda n: client.get(f"/api/tasks?page={TASKS // 10}", headers=auth),
        "post": lambda n: client.post("/api/tasks", json={"title": "new"}, headers=auth),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenarios", nargs="*", help="default: every scenario")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=45, help="profile lines to keep")
    args = parser.parse_args()
    app, client, auth, ids = make_client()
    runs = scenarios(client, auth, ids)
    out = HERE / "out" / f"hotpaths-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    out.mkdir(parents=True)
    statements: list[str] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.append(a[2]))
    for name in args.scenarios or list(runs):
        send = runs[name]
        assert send(0).status_code < 300
        statements.clear()
        assert send(1).status_code < 300
        counted = len(statements)
        started, cpu_started = time.perf_counter(), time.process_time()
        for n in range(args.requests):
            send(n)
        rate = args.requests / (time.perf_counter() - started)
        cpu_ms = (time.process_time() - cpu_started) * 1000 / args.requests
        profile = cProfile.Profile()
        profile.enable()
        for n in range(args.requests):
            send(n)
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(args.lines)
        report = (
            f"{name}: {counted} SQL statements a request, {rate:,.0f} requests/s "
            f"in-process without the profiler, {cpu_ms:.2f} ms CPU a request "
            f"({args.requests} requests)\n\n{text.getvalue()}"
        )
        (out / f"{name.replace(' ', '-')}.txt").write_text(report)
        print(report.splitlines()[0], flush=True)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
