"""Webhook delivery benchmark (issue 17): how soon a change reaches its receivers, and
how fast a worker clears a backlog.

Two layouts (``--configs``):

- ``embedded``: SQLite, no Redis, ``doable serve --with-worker`` (what ``./scripts/serve``
  runs): the worker's loop in the server process, woken by the change's own signal;
- ``prod-postgresql``: PostgreSQL and Redis, ``doable serve --workers 2`` and one
  ``doable worker`` process, woken through Redis pub/sub.

Each gets its own database (``bench/run.py``'s ``prepare_database``), one user, and
``--webhooks`` webhooks (100) of theirs subscribed to every event, all pointing at one
receiver in this process (a threaded ``http.server`` on 127.0.0.1 answering 200, with a
listen backlog of 1,024, recording when each request arrived). The webhooks are
INSERTed directly; so is the backlog below. Then:

1. **Latency.** ``--changes`` times (50): ``POST /api/tasks`` through the API, then wait
   until all the webhooks have received its event. Each delivery's latency is from just
   before the POST was sent to its arrival at the receiver; p50 and p99 over every
   delivery, and over each change's last one ("all 100 told").
2. **Throughput.** The worker is stopped (``embedded``: the server is restarted
   without ``--with-worker``), ``--backlog`` (10,000) pending deliveries are INSERTed,
   due now, as the fan-out makes them (one per webhook and task, a real event body), as
   after a receiver's outage once their retries fall due; then the worker starts again
   and the clock runs until every one has succeeded (the database is polled every
   0.1 s). Deliveries a second from the first request the receiver got to the last, and
   from the worker's start.

Raw output (``results.json``, ``results.md``, the receiver's arrival times, the
processes' logs) goes to ``bench/out/<stamp>-webhooks/``. See bench/README.md,
"Webhooks".

    .venv/bin/python bench/webhooks.py            # both layouts
    .venv/bin/python bench/webhooks.py --quick    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    CONFIGS,
    DOABLE,
    HERE,
    Config,
    Database,
    add_service_options,
    bench_env,
    free_port,
    login_token,
    prepare_database,
    stop,
    wait_up,
)

from doable.webhooks.models import Webhook, WebhookDelivery
from doable.webhooks.queue import envelope
from doable.webhooks.signing import new_secret

LAYOUTS = ("embedded", "prod-postgresql")


class Receiver(ThreadingHTTPServer):
    """Answers every POST 200 and notes when it came, by ``webhook-id``."""

    daemon_threads = True
    request_queue_size = 1024

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrivals: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hook"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def arrived(self, message_id: str) -> None:
        with self.lock:
            self.arrivals.setdefault(message_id, []).append(time.perf_counter())

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.arrived(self.headers.get("webhook-id", ""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Result:
    config: str
    webhooks: int
    changes: int
    latency_p50_ms: float
    latency_p99_ms: float
    all_told_p50_ms: float
    all_told_p99_ms: float
    backlog: int
    backlog_seconds: float
    deliveries_per_second: float
    deliveries_per_second_from_start: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Layout:
    """One layout's processes on its database: the server, and the worker apart."""

    def __init__(
        self, config: Config, db: Database, workdir: Path, out: Path, redis_url: str
    ) -> None:
        self.config, self.db, self.out = config, db, out
        extra = {
            "REDIS_URL": redis_url if config.redis else "",
            "DOABLE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "DOABLE_MAX_WEBHOOKS_PER_USER": "1000",
            "DOABLE_REALTIME_TRANSPORTS": "websocket",
        }
        self.env = bench_env(db, workdir, **extra)
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self, *, worker: bool) -> None:
        """The server, and (``worker``) the worker: in it (embedded) or beside it."""
        embedded = self.config.name == "embedded"
        port = free_port()
        args = ["serve", "--port", str(port), "--workers", str(self.config.workers)]
        self.server = self._spawn([*args, *(["--with-worker"] if worker and embedded else [])])
        self.base = f"http://127.0.0.1:{port}"
        wait_up(f"{self.base}/healthz", self.server)
        if worker and not embedded:
            self.start_worker()

    def start_worker(self) -> None:
        self.worker = self._spawn(["worker"], name="worker")

    def stop(self) -> None:
        for process in (self.worker, self.server):
            if process is not None and process.poll() is None:
                stop(process)
        self.worker = self.server = None

    def _spawn(self, args: list[str], name: str = "serve") -> subprocess.Popen[bytes]:
        with (self.out / f"{self.config.name}-{name}.log").open("ab") as log:
            return subprocess.Popen(
                [DOABLE, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def add_webhooks(db: Database, user_id: int, url: str, count: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        {
            "user_id": user_id,
            "url": f"{url}/{n}",
            "events": ["*"],
            "description": f"bench {n}",
            "active": True,
            "secret": new_secret(),
            "last_seq": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Webhook), rows)
        return list(conn.execute(sa.select(Webhook.id).order_by(Webhook.id)).scalars())


def measure_latency(
    layout: Layout, token: str, receiver: Receiver, webhooks: int, changes: int
) -> tuple[list[float], list[float]]:
    """Every delivery's latency, and each change's last one, in milliseconds."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    every, last = [], []
    for n in range(changes):
        told = receiver.count() + webhooks
        sent = time.perf_counter()
        created = session.post(f"{layout.base}/api/tasks", json={"title": f"bench {n}"}, timeout=30)
        created.raise_for_status()
        wait(lambda told=told: receiver.count() >= told, 60, "every webhook told")
        with receiver.lock:
            arrivals = sorted(times[0] for times in receiver.arrivals.values() if times[0] > sent)
        every += [(at - sent) * 1000 for at in arrivals]
        last.append((arrivals[-1] - sent) * 1000)
    return every, last


def seed_backlog(db: Database, user_id: int, webhook_ids: list[int], size: int) -> None:
    """``size`` pending deliveries, due now: one per webhook and (made-up) task, each
    with an event body of the shape the fan-out writes."""
    now = datetime.now(UTC)
    tasks = -(-size // len(webhook_ids))
    rows = []
    for task_id in range(1_000_000, 1_000_000 + tasks):
        for webhook_id in webhook_ids:
            if len(rows) == size:
                break
            data = _event(webhook_id, task_id, user_id)
            rows.append(
                {
                    "webhook_id": webhook_id,
                    "message_id": f"msg_bench_{webhook_id}_{task_id}",
                    "event_type": "task.updated",
                    "seq": task_id,
                    "change_id": task_id,
                    "task_id": task_id,
                    "payload": envelope("task.updated", data),
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
            )
    with db.engine.begin() as conn:
        conn.execute(sa.insert(WebhookDelivery), rows)


def _event(webhook_id: int, task_id: int, user_id: int) -> dict[str, Any]:
    stamp = "2026-11-30T12:00:00Z"
    owner = {"id": user_id, "username": "bench"}
    task = {
        "id": task_id,
        "title": "Renew the passport",
        "description": "Book an appointment at the town hall",
        "status": "in_progress",
        "priority": "high",
        "due_date": "2026-12-15",
        "categories": ["errands"],
        "owner": owner,
        "access": "owner",
        "created_at": stamp,
        "updated_at": stamp,
    }
    return {
        "seq": task_id,
        "change_id": task_id,
        "at": stamp,
        "actor": owner,
        "entity": {"type": "task", "id": task_id},
        "task_id": task_id,
        "action": "updated",
        "version": 2,
        "changes": {"status": ["pending", "in_progress"]},
        "webhook_id": webhook_id,
        "task": task,
    }


def pending(db: Database) -> int:
    query = sa.select(sa.func.count()).where(WebhookDelivery.status == "pending")
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def measure_backlog(layout: Layout, receiver: Receiver, size: int) -> tuple[float, float, float]:
    """Start the worker on the seeded backlog; seconds from the first request to the
    last, deliveries a second over that, and over the time since the worker started."""
    with receiver.lock:
        receiver.arrivals.clear()
    started = time.perf_counter()
    layout.start(worker=True)
    wait(lambda: pending(layout.db) == 0, 1800, "the backlog delivered", interval=0.1)
    with receiver.lock:
        arrivals = sorted(times[0] for times in receiver.arrivals.values())
    assert len(arrivals) >= size, f"{len(arrivals)} of {size} arrived"
    span = arrivals[-1] - arrivals[0]
    return span, size / span, size / (arrivals[-1] - started)


def wait(condition: Any, limit: float, what: str, interval: float = 0.005) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {limit}s")
        time.sleep(interval)


def bench_layout(name: str, args: argparse.Namespace, out: Path) -> Result:
    config = CONFIGS[name]
    workdir = Path(tempfile.mkdtemp(prefix=f"webhooks-{name}-"))
    db = prepare_database(config, workdir, args)
    receiver = Receiver()
    layout = Layout(config, db, workdir, out, args.redis_url)
    try:
        user_id = db.add_user("bench")
        webhook_ids = add_webhooks(db, user_id, receiver.url, args.webhooks)
        layout.start(worker=True)
        token = login_token(db, layout.base, user_id)
        every, last = measure_latency(layout, token, receiver, args.webhooks, args.changes)
        layout.stop()  # no worker: the backlog waits, as in an outage
        seed_backlog(db, user_id, webhook_ids, args.backlog)
        span, rate, rate_from_start = measure_backlog(layout, receiver, args.backlog)
        with (out / f"{name}-arrivals.json").open("w") as file:
            json.dump({"latency_ms": every, "all_told_ms": last}, file)
    finally:
        layout.stop()
        receiver.shutdown()
        db.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return Result(
        config=name,
        webhooks=args.webhooks,
        changes=args.changes,
        latency_p50_ms=round(percentile(every, 0.5), 1),
        latency_p99_ms=round(percentile(every, 0.99), 1),
        all_told_p50_ms=round(percentile(last, 0.5), 1),
        all_told_p99_ms=round(percentile(last, 0.99), 1),
        backlog=args.backlog,
        backlog_seconds=round(span, 2),
        deliveries_per_second=round(rate, 1),
        deliveries_per_second_from_start=round(rate_from_start, 1),
    )


COLUMNS = (
    "layout",
    "webhooks",
    "changes",
    "latency p50",
    "p99",
    "all told p50",
    "p99",
    "backlog",
    "deliveries/s",
    "from start",
)


def table(results: list[Result]) -> str:
    rows = [COLUMNS, ("---",) * len(COLUMNS)]
    rows += [
        (
            r.config,
            r.webhooks,
            r.changes,
            f"{r.latency_p50_ms} ms",
            f"{r.latency_p99_ms} ms",
            f"{r.all_told_p50_ms} ms",
            f"{r.all_told_p99_ms} ms",
            f"{r.backlog:,}",
            f"{r.deliveries_per_second:,.0f}",
            f"{r.deliveries_per_second_from_start:,.0f}",
        )
        for r in results
    ]
    return "\n".join("| " + " | ".join(map(str, row)) + " |" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", choices=LAYOUTS, default=list(LAYOUTS))
    parser.add_argument("--webhooks", type=int, default=100)
    parser.add_argument("--changes", type=int, help="50 (--quick: 10)")
    parser.add_argument("--backlog", type=int, help="10,000 (--quick: 2,000)")
    parser.add_argument("--quick", action="store_true", help="a quick look: fewer of each")
    add_service_options(parser)
    args = parser.parse_args()
    args.changes = args.changes or (10 if args.quick else 50)
    args.backlog = args.backlog or (2_000 if args.quick else 10_000)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = HERE / "out" / f"{stamp}-webhooks"
    out.mkdir(parents=True)
    load = os.getloadavg()[0]
    results = []
    for name in args.configs:
        results.append(bench_layout(name, args, out))
        print(table(results[-1:]), flush=True)
    (out / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    summary = table(results)
    header = f"{os.cpu_count()} cores, load average {load:.2f} at the start\n\n"
    (out / "results.md").write_text(header + summary + "\n")
    print(summary)
    print(f"raw output: {out}")


if __name__ == "__main__":
    main()
