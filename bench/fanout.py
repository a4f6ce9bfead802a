"""Real-time fan-out benchmark: change -> event received, at 100 connected clients.

For each configuration it starts ``doable serve`` itself, registers an owner and 99
other users, shares one task with all 99 (so every change has 100 recipients), connects
one python-socketio client per user, then makes ``--updates`` changes through the API,
one every ``--gap`` seconds. For each change it records, per client, the time from just
before the PATCH was sent to the ``task_updated`` event arriving. Loopback only, bounded
in count and time. Results go to ``bench/out/fanout-<stamp>/`` and a table on stdout.

Configurations: ``sqlite`` is one ``doable serve`` (one gevent worker, no Redis);
``postgresql`` is the recommended production layout, two single-worker ``doable serve``
processes on ports of their own sharing one PostgreSQL database and Redis, the clients
split evenly over both and the changes sent to each in turn.

    .venv/bin/python bench/fanout.py [--configs sqlite,postgresql] [--updates 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests
import socketio
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import DOABLE, HERE, SECRET, add_service_options, free_port, stop, wait_up

PASSWORD = "bench-password"
CLIENTS = 100
CONFIGS = {
    # name: (backend, doable serve processes of one worker each, redis)
    "sqlite": ("sqlite", 1, False),
    "postgresql": ("postgresql", 2, True),
}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


class Client:
    def __init__(self, base: str, token: str, arrivals: dict[str, dict[int, float]]) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.arrivals = arrivals
        self.sio.on("task_updated", self._on_updated)
        self.sio.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        self.id = id(self)

    def _on_updated(self, data: dict) -> None:
        self.arrivals.setdefault(data["title"], {})[self.id] = time.perf_counter()


def account(base: str, name: str) -> tuple[int, str]:
    body = {"username": name, "email": f"{name}@bench.example", "password": PASSWORD}
    user_id = requests.post(f"{base}/api/register", json=body, timeout=30).json()["user_id"]
    login = requests.post(
        f"{base}/api/login", json={"username": name, "password": PASSWORD}, timeout=30
    )
    return user_id, login.json()["token"]


def bench(name: str, args: argparse.Namespace, out: Path) -> dict:
    backend, processes, redis = CONFIGS[name]
    workdir = Path(tempfile.mkdtemp(prefix=f"doable-fanout-{name}-"))
    database_url, admin, db_name = f"sqlite:///{workdir / 'doable.sqlite3'}", None, None
    if backend == "postgresql":
        admin = sa.create_engine(args.postgres_admin_url, isolation_level="AUTOCOMMIT")
        db_name = f"doable_fanout_{os.getpid()}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{db_name}"'))
        database_url = admin.url.set(database=db_name).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET,
        "DOABLE_ENV": "production",
        "DOABLE_INSTANCE_PATH": str(workdir / "instance"),
        "DOABLE_RATELIMIT_ENABLED": "false",
        "DOABLE_REDIS_PREFIX": f"doable-fanout-{os.getpid()}",
        "DOABLE_ARGON2_TIME_COST": "1",
        "DOABLE_ARGON2_MEMORY_COST": "1024",
        "REDIS_URL": args.redis_url if redis else "",
    }
    bases: list[str] = []
    servers: list[subprocess.Popen[bytes]] = []
    clients: list[Client] = []
    try:
        # One after the other: each applies the migrations before it serves.
        for k in range(processes):
            port = free_port()
            bases.append(f"http://127.0.0.1:{port}")
            with (out / f"{name}-serve-{k}.log").open("wb") as log:
                servers.append(
                    subprocess.Popen(
                        [DOABLE, "serve", "--port", str(port)],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            wait_up(f"{bases[-1]}/healthz", servers[-1])
        base = bases[0]
        with ThreadPoolExecutor(8) as pool:
            users = list(pool.map(lambda n: account(base, f"fan{n}"), range(CLIENTS)))
        owner_token = users[0][1]
        headers = {"Authorization": f"Bearer {owner_token}"}
        task = requests.post(
            f"{base}/api/tasks", json={"title": "start"}, headers=headers, timeout=30
        ).json()
        for n in range(1, CLIENTS):
            requests.post(
                f"{base}/api/tasks/{task['id']}/share",
                json={"username": f"fan{n}", "permission": "view"},
                headers=headers,
                timeout=30,
            ).raise_for_status()
        arrivals: dict[str, dict[int, float]] = {}
        with ThreadPoolExecutor(10) as pool:
            clients = list(
                pool.map(
                    lambda n: Client(bases[n % processes], users[n][1], arrivals), range(CLIENTS)
                )
            )
        time.sleep(1)
        sent: dict[str, float] = {}
        answered: list[float] = []
        errors = 0
        for n in range(args.updates):
            title = f"update {n}"
            sent[title] = start = time.perf_counter()
            response = requests.patch(
                f"{bases[n % processes]}/api/tasks/{task['id']}",
                json={"title": title},
                headers=headers,
                timeout=30,
            )
            answered.append(time.perf_counter() - start)
            errors += response.status_code != 200
            time.sleep(args.gap)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            len(arrivals.get(title, {})) < CLIENTS for title in sent
        ):
            time.sleep(0.1)
        each = [at - sent[title] for title in sent for at in arrivals.get(title, {}).values()]
        last = [max(arrivals[title].values()) - sent[title] for title in sent if title in arrivals]
        missing = CLIENTS * len(sent) - len(each)
        return {
            "config": f"{name} ({processes} process(es) x 1 gevent worker"
            f"{', Redis' if redis else ''})",
            "deliveries": len(each),
            "missing": missing,
            "http_errors": errors,
            "event_p50_ms": percentile(each, 50) * 1000,
            "event_p99_ms": percentile(each, 99) * 1000,
            "all_delivered_p50_ms": percentile(last, 50) * 1000,
            "all_delivered_p99_ms": percentile(last, 99) * 1000,
            "patch_p50_ms": statistics.median(answered) * 1000,
        }
    finally:
        for client in clients:
            threading.Thread(target=client.sio.disconnect, daemon=True).start()
        time.sleep(0.5)
        for server in servers:
            stop(server)
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="sqlite,postgresql")
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between changes")
    add_service_options(parser)
    args = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = HERE / "out" / f"fanout-{stamp}"
    out.mkdir(parents=True)
    results = [bench(name, args, out) for name in args.configs.split(",")]
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(
        "| config | deliveries (missing) | event p50 | event p99 | all 100 p50 | all 100 p99 |"
        " PATCH p50 |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['config']} | {r['deliveries']} ({r['missing']}) | {r['event_p50_ms']:.1f} ms"
            f" | {r['event_p99_ms']:.1f} ms | {r['all_delivered_p50_ms']:.1f} ms"
            f" | {r['all_delivered_p99_ms']:.1f} ms | {r['patch_p50_ms']:.1f} ms |"
        )
    print(f"\nraw: {out}")


if __name__ == "__main__":
    main()
