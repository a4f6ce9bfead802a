"""Steady-rate load with a realistic mix, for ``--minutes`` (10 by default).

Starts ``doable serve --workers 2`` (gevent workers; Socket.IO over WebSocket only, as
two workers on one port require: this benchmark opens no socket) on a fresh PostgreSQL
database with the local Redis (rate limits on, set high enough not to refuse the load:
their bookkeeping is part of what is measured), creates 20 users with some tasks each
through the API, then sends requests at a fixed rate (an open model: a slow answer does
not slow the schedule) in this mix: list 35 %, get 20 %, update 15 %, create 10 %,
share 5 %, upload 5 %, login 5 %, attachment list 5 %. Every answer outside 2xx counts
as an error. It records latency per kind, and each worker's resident memory every 30 s.
Loopback only; bounded in time. Results: ``bench/out/load-<stamp>/`` and stdout.

    .venv/bin/python bench/load.py [--minutes 10] [--rate 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import percentile
from run import DOABLE, HERE, SECRET, add_service_options, free_port, stop, wait_up

PASSWORD = "load-test-password"
USERS = 20
MIX = [
    ("list", 35),
    ("get", 20),
    ("update", 15),
    ("create", 10),
    ("share", 5),
    ("upload", 5),
    ("login", 5),
    ("attachments", 5),
]
STATUSES = ["pending", "in_progress", "completed"]


class Client:
    """The users, their tokens and task ids; one ``requests`` session per thread."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.local = threading.local()
        self.tokens: list[str] = []
        self.tasks: list[list[int]] = []
        self.lock = threading.Lock()

    @property
    def http(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, method: str, path: str, user: int | None = None, **kwargs):  # type: ignore[no-untyped-def]
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        return self.http.request(
            method, f"{self.base}{path}", headers=headers, timeout=10, **kwargs
        )

    def set_up(self, rng: random.Random) -> None:
        for n in range(USERS):
            body = {"username": f"load{n}", "email": f"load{n}@example.com"}
            self.call("POST", "/api/register", json={**body, "password": PASSWORD})
            login = self.call(
                "POST", "/api/login", json={"username": f"load{n}", "password": PASSWORD}
            )
            self.tokens.append(login.json()["token"])
            self.tasks.append([])
            for i in range(20):
                task = self.call("POST", "/api/tasks", n, json=_task(rng, i)).json()
                self.tasks[n].append(task["id"])

    def one(self, kind: str, rng: random.Random) -> requests.Response:
        user = rng.randrange(USERS)
        task_id = rng.choice(self.tasks[user])
        if kind == "list":
            params = rng.choice(
                [{}, {"status": rng.choice(STATUSES)}, {"sort": "due_date"}, {"q": "report"}]
            )
            return self.call("GET", "/api/tasks", user, params=params)
        if kind == "get":
            return self.call("GET", f"/api/tasks/{task_id}", user)
        if kind == "update":
            return self.call(
                "PATCH", f"/api/tasks/{task_id}", user, json={"status": rng.choice(STATUSES)}
            )
        if kind == "create":
            response = self.call("POST", "/api/tasks", user, json=_task(rng, rng.randrange(10**6)))
            if response.status_code == 201:
                with self.lock:
                    self.tasks[user].append(response.json()["id"])
            return response
        if kind == "share":
            other = (user + 1 + rng.randrange(USERS - 1)) % USERS
            body = {"username": f"load{other}", "permission": rng.choice(["view", "edit"])}
            return self.call("POST", f"/api/tasks/{task_id}/share", user, json=body)
        if kind == "upload":
            content = os.urandom(rng.randrange(1_000, 50_000))
            files = {"file": ("notes.bin", content, "application/octet-stream")}
            return self.call("POST", f"/api/tasks/{task_id}/attachments", user, files=files)
        if kind == "attachments":
            return self.call("GET", f"/api/tasks/{task_id}/attachments", user)
        body = {"username": f"load{user}", "password": PASSWORD}
        return self.call("POST", "/api/login", json=body)


def _task(rng: random.Random, i: int) -> dict:
    return {
        "title": f"Task {i}: write the report",
        "description": "Steady load " * rng.randrange(1, 20),
        "priority": rng.choice(["low", "medium", "high"]),
        "categories": rng.sample(["work", "home", "errands", "ideas"], rng.randrange(0, 3)),
    }


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def rss_kib(pid: int) -> int | None:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:  # the worker exited (recycled after --max-requests)
        return None
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def sample(master: int, started: float) -> dict:
    """Resident memory of each live worker, in KiB."""
    rss = {str(pid): rss_kib(pid) for pid in worker_pids(master)}
    return {"t": round(time.monotonic() - started), **{p: v for p, v in rss.items() if v}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=30, help="requests per second")
    add_service_options(parser)
    args = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = HERE / "out" / f"load-{stamp}"
    out.mkdir(parents=True)
    workdir = Path(tempfile.mkdtemp(prefix="doable-load-"))
    admin = sa.create_engine(args.postgres_admin_url, isolation_level="AUTOCOMMIT")
    db_name = f"doable_load_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{db_name}"'))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": admin.url.set(database=db_name).render_as_string(hide_password=False),
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": SECRET,
        "DOABLE_ENV": "production",
        "DOABLE_INSTANCE_PATH": str(workdir / "instance"),
        "DOABLE_REDIS_PREFIX": f"doable-load-{os.getpid()}",
        "DOABLE_AUTH_RATE_LIMIT": "100000 per minute",
        "DOABLE_API_RATE_LIMIT": "100000 per minute",
        # `doable serve --workers 2` refuses long-polling (it cannot be pinned to a worker).
        "DOABLE_REALTIME_TRANSPORTS": "websocket",
    }
    with (out / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [DOABLE, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    rng = random.Random(20261124)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, list[str]] = defaultdict(list)
    memory: list[dict] = []
    try:
        wait_up(f"{base}/healthz", server)
        client = Client(base)
        client.set_up(rng)
        kinds = [kind for kind, weight in MIX for _ in range(weight)]
        pids = worker_pids(server.pid)
        started = time.monotonic()
        memory.append(sample(server.pid, started))
        deadline = started + args.minutes * 60
        interval = 1 / args.rate
        lock = threading.Lock()

        def fire(kind: str, seed: int) -> None:
            local = random.Random(seed)
            sent = time.perf_counter()
            try:
                response = client.one(kind, local)
                ok, note = (
                    response.status_code < 300,
                    f"{response.status_code} {response.text[:200]}",
                )
            except requests.RequestException as exc:
                ok, note = False, repr(exc)
            elapsed = time.perf_counter() - sent
            with lock:
                latencies[kind].append(elapsed)
                if not ok:
                    errors[kind].append(note)

        with ThreadPoolExecutor(32) as pool:
            n, next_sample = 0, started + 30
            while (now := time.monotonic()) < deadline:
                target = started + n * interval
                if target > now:
                    time.sleep(target - now)
                pool.submit(fire, rng.choice(kinds), rng.randrange(2**32))
                n += 1
                if time.monotonic() >= next_sample:
                    memory.append(sample(server.pid, started))
                    next_sample += 30
        memory.append(sample(server.pid, started))
        restarted = worker_pids(server.pid) != pids
    finally:
        stop(server)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()
    everything = [value for values in latencies.values() for value in values]
    summary = {
        "minutes": args.minutes,
        "rate": args.rate,
        "requests": len(everything),
        "errors": sum(len(v) for v in errors.values()),
        "workers_restarted": restarted,
        "p50_ms": percentile(everything, 50) * 1000,
        "p99_ms": percentile(everything, 99) * 1000,
        "by_kind": {
            kind: {
                "count": len(values),
                "errors": len(errors[kind]),
                "p50_ms": percentile(values, 50) * 1000,
                "p99_ms": percentile(values, 99) * 1000,
            }
            for kind, values in sorted(latencies.items())
        },
        "rss_kib": memory,
        "error_samples": {kind: notes[:5] for kind, notes in errors.items()},
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    p50, p99 = summary["p50_ms"], summary["p99_ms"]
    print(
        f"{summary['requests']} requests in {args.minutes} min at {args.rate}/s, "
        f"{summary['errors']} errors, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    print("| kind | requests | errors | p50 | p99 |\n|---|---|---|---|---|")
    for kind, row in summary["by_kind"].items():
        timing = f"{row['p50_ms']:.1f} ms | {row['p99_ms']:.1f} ms"
        print(f"| {kind} | {row['count']} | {row['errors']} | {timing} |")
    for pid in dict.fromkeys(key for row in memory for key in row if key != "t"):
        seen = [(row["t"], row[pid]) for row in memory if pid in row]
        (t0, first), (t1, last) = seen[0], seen[-1]
        print(
            f"worker {pid}: RSS {first / 1024:.1f} MiB at {t0} s, {last / 1024:.1f} MiB at {t1} s"
            f" (max {max(v for _, v in seen) / 1024:.1f} MiB)"
        )
    print(f"workers restarted during the run: {restarted}\nraw: {out}")


if __name__ == "__main__":
    main()
