"""Load benchmark of the tasks API, driven by wrk over loopback.

For each server configuration it starts ``doable serve`` itself, seeds the database
directly in bulk (10 other users with 10,000 tasks each, and the measured user with N
tasks), and measures each scenario with wrk, next to a ceiling endpoint served with the
same gunicorn settings (doable serve's gevent worker class, as many workers, as many
connections each). Results go to ``bench/out/<stamp>/`` (raw wrk output + JSON) and a
Markdown table on stdout. See bench/README.md.

The production configurations run ``doable serve --workers 2`` on one port, which it
allows only with ``DOABLE_REALTIME_TRANSPORTS=websocket`` (long-polling cannot be pinned
to one worker); this benchmark makes no Socket.IO connection, so that setting changes
nothing it measures.

Each configuration runs side by side with its baseline, ``tutorial-<backend>``:
``bench/baseline/app.py`` (the tutorial's app, issue 15) on gunicorn with 2 sync workers,
next to ``bench/baseline/ceiling.py`` (its JWT check alone) on the same shape; its tables
are seeded with the same rows, and the measured user's token is minted as the tutorial's
login mints it. Both servers stay up while ``--rounds`` interleaved rounds run every
scenario on one, then the other (the order alternating by round); the tables report
each figure's median over the rounds. What the POST scenario adds is removed after each
round, so every round sees N tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jwt
import requests
import sqlalchemy as sa
from argon2 import PasswordHasher
from werkzeug.security import generate_password_hash

from doable.auth.models import fold

HERE = Path(__file__).resolve().parent
DOABLE = str(Path(sys.executable).with_name("doable"))
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
# Fixed, and random: production refuses a guessable key
SECRET = "oRJFD-UXPfJVzG4R7twTdQ_JKDZqsEo7F1MIQ2kw24tdr_2h"
PASSWORD = "bench-password"
WORDS = [f"word{n:03d}" for n in range(200)]
OTHER_USERS, OTHER_TASKS = 10, 10_000
STATUSES = ["pending", "in_progress", "completed"]
WRK_SCRIPT = """
local method, template, body = "{method}", "{path}", [[{body}]]
local ids = {{{ids}}}
local headers = {{["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}}
local statuses = {{"pending", "in_progress", "completed"}}
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local path = string.gsub(template, "{{id}}", tostring(ids[math.random(1, #ids)]))
  local b = string.gsub(body, "{{status}}", statuses[math.random(1, 3)])
  if method == "GET" then b = nil end
  return wrk.format(method, path, headers, b)
end
"""


@dataclass
class Config:
    name: str
    backend: str  # sqlite | postgresql
    workers: int
    redis: bool
    app: str = "doable"  # doable | tutorial (bench/baseline/app.py)


CONFIGS = {
    "prod-sqlite": Config("prod-sqlite", "sqlite", 2, True),
    "prod-postgresql": Config("prod-postgresql", "postgresql", 2, True),
    "embedded": Config("embedded", "sqlite", 1, False),
    "tutorial-sqlite": Config("tutorial-sqlite", "sqlite", 2, False, "tutorial"),
    "tutorial-postgresql": Config("tutorial-postgresql", "postgresql", 2, False, "tutorial"),
}
BASELINE = HERE / "baseline"
#: Doable's priorities 1..3 as the tutorial's app names them (it stores the names)
TUTORIAL_PRIORITIES = {1: "low", 2: "medium", 3: "high"}
#: Scenarios the tutorial's app has no feature for: it ignores ``q`` and would answer a
#: first page, which is not a search
TUTORIAL_SKIPS = {"text search"}


@dataclass
class Result:
    config: str
    n: int
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    non_2xx: int = 0  # of ``errors``: answers that were not 2xx/3xx (the rest: socket errors)
    round: int = 1


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """Where the benchmarks find the local Redis and PostgreSQL."""
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({url})")
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):  # not up, or still booting
            time.sleep(0.2)
    raise RuntimeError(f"server did not come up: {url}")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


class Database:
    """The benchmark's own database, seeded with plain bulk INSERTs."""

    def __init__(self, backend: str, workdir: Path, admin_url: str) -> None:
        self.backend = backend
        self.admin_url = admin_url
        if backend == "sqlite":
            self.url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        else:
            # One database per app: Doable's and the tutorial's run side by side.
            name = f"{type(self).__name__.lower()}_bench_{os.getpid()}"
            admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self.name = name
            self.url = admin.url.set(database=name).render_as_string(hide_password=False)
        self.engine = sa.create_engine(self.url)
        self.password_hash = PasswordHasher().hash(PASSWORD)
        self.main_ranges: list[tuple[int, int]] = []

    def drop(self) -> None:
        self.engine.dispose()
        if self.backend == "postgresql":
            admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()

    def add_user(self, username: str) -> int:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    sa.text(
                        'INSERT INTO "user" (username, email, username_key, email_key, '
                        "password_hash, created_at, updated_at) "
                        "VALUES (:u, :e, :uk, :ek, :h, :t, :t) RETURNING id"
                    ),
                    {
                        "u": username,
                        "e": f"{username}@example.com",
                        "uk": fold(username),  # what the application stores and compares
                        "ek": fold(f"{username}@example.com"),
                        "h": self.password_hash,
                        "t": now,
                    },
                ).scalar_one()
            )

    def add_tasks(self, user_id: int, count: int, rng: random.Random) -> None:
        """Insert ``count`` varied tasks for the user."""
        with self.engine.begin() as conn:
            insert_tasks(conn, task_rows(user_id, count, rng))
            # The per-user counter the tasks service keeps (as the migration backfills it).
            conn.execute(sa.text("DELETE FROM task_count WHERE user_id = :u"), {"u": user_id})
            conn.execute(
                sa.text(
                    "INSERT INTO task_count (user_id, owned) "
                    "SELECT :u, count(*) FROM task WHERE user_id = :u"
                ),
                {"u": user_id},
            )
        self.analyze()

    def analyze(self) -> None:
        # What autovacuum would soon do on a live PostgreSQL: update statistics and the
        # visibility map (without it index-only scans visit every heap page).
        maintenance = "VACUUM ANALYZE task" if self.backend == "postgresql" else "ANALYZE"
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(maintenance))

    def trim(self, user_id: int, last_id: int) -> None:
        """Remove the user's tasks after ``last_id`` (what the POST scenario added)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.text("DELETE FROM task WHERE user_id = :u AND id > :last"),
                {"u": user_id, "last": last_id},
            )
            conn.execute(
                sa.text(
                    "UPDATE task_count SET owned = (SELECT count(*) FROM task WHERE user_id = :u) "
                    "WHERE user_id = :u"
                ),
                {"u": user_id},
            )

    def count_tasks(self, user_id: int) -> int:
        """The POST scenario (run last) adds tasks; the next size seeds only the rest."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT COUNT(*) FROM task WHERE user_id = :u"), {"u": user_id}
                ).scalar_one()
            )


def task_rows(user_id: int, count: int, rng: random.Random) -> list[dict[str, object]]:
    """``count`` varied tasks for the user, as Doable stores them."""
    start = datetime.now(UTC) - timedelta(days=365)
    today = date.today()
    rows: list[dict[str, object]] = []
    for i in range(count):
        created = start + timedelta(seconds=i * 30 + rng.random())
        due = None if rng.random() < 0.3 else today + timedelta(days=rng.randint(-60, 120))
        rows.append(
            {
                "user_id": user_id,
                "title": f"Task {i} {rng.choice(WORDS)} {rng.choice(WORDS)}",
                "description": " ".join(rng.choice(WORDS) for _ in range(8)),
                "status": rng.choice(STATUSES),
                "priority": rng.randint(1, 3),
                "due_date": due,
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


def insert_tasks(conn: sa.Connection, rows: list[dict[str, object]]) -> None:
    """Plain bulk INSERTs into ``task``, 5,000 rows a statement; the columns are the rows'
    keys (ours, not input)."""
    if not rows:
        return
    columns = list(rows[0])
    insert = sa.text(
        f"INSERT INTO task ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(':' + c for c in columns)})"
    )
    for chunk in range(0, len(rows), 5000):
        conn.execute(insert, rows[chunk : chunk + 5000])


class TutorialDatabase(Database):
    """The same rows in the tutorial app's tables (``db.create_all()``): its users carry a
    werkzeug hash, its tasks a priority name and no version; no counter to keep."""

    def __init__(self, backend: str, workdir: Path, admin_url: str) -> None:
        super().__init__(backend, workdir, admin_url)
        self.password_hash = generate_password_hash(PASSWORD)

    def create_schema(self) -> None:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from app import app, db; app.app_context().push(); db.create_all()",
            ],
            cwd=BASELINE,
            env={**os.environ, "DATABASE_URL": self.url, "SECRET_KEY": SECRET},
            check=True,
            capture_output=True,
        )

    def add_user(self, username: str) -> int:
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    sa.text(
                        'INSERT INTO "user" (username, email, password_hash, created_at) '
                        "VALUES (:u, :e, :h, :t) RETURNING id"
                    ),
                    {
                        "u": username,
                        "e": f"{username}@example.com",
                        "h": self.password_hash,
                        "t": datetime.now(UTC).replace(tzinfo=None),  # its utcnow()
                    },
                ).scalar_one()
            )

    def add_tasks(self, user_id: int, count: int, rng: random.Random) -> None:
        rows = []
        for row in task_rows(user_id, count, rng):
            del row["version"]
            row["priority"] = TUTORIAL_PRIORITIES[row["priority"]]  # type: ignore[index]
            row["created_at"] = row["updated_at"] = row["created_at"].replace(tzinfo=None)  # type: ignore[attr-defined]
            rows.append(row)
        with self.engine.begin() as conn:
            insert_tasks(conn, rows)
        self.analyze()

    def trim(self, user_id: int, last_id: int) -> None:
        with self.engine.begin() as conn:  # no counter to keep
            conn.execute(
                sa.text("DELETE FROM task WHERE user_id = :u AND id > :last"),
                {"u": user_id, "last": last_id},
            )

    def token(self, user_id: int) -> str:
        """What the tutorial's ``/api/login`` hands out: a 24-hour HS256 JWT."""
        claims = {"user_id": user_id, "exp": datetime.now(UTC) + timedelta(hours=24)}
        return jwt.encode(claims, SECRET, algorithm="HS256")


def run_wrk(
    base: str,
    token: str,
    method: str,
    path: str,
    body: str,
    ids: list[int] | list[str],
    args: argparse.Namespace,
    raw_path: Path,
    template: str = WRK_SCRIPT,
) -> tuple[float, float, float, int, int]:
    """wrk against ``base`` with ``template`` (``WRK_SCRIPT``'s placeholders) as its
    script, its output kept at ``raw_path``."""
    script = raw_path.with_suffix(".lua")
    script.write_text(
        template.format(
            method=method, path=path, body=body, token=token, ids=",".join(map(str, ids))
        )
    )
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(args.connections),
            "-d",
            f"{args.duration}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        timeout=args.duration + 60,
        check=True,
    )
    raw_path.write_text(done.stdout)
    return parse_wrk(done.stdout)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> tuple[float, float, float, int, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = non_2xx(out)
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(g) for g in match.groups())
    return rps, p50, p99, errors, total


def non_2xx(out: str) -> int:
    """Responses wrk counted as neither 2xx nor 3xx."""
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return int(match.group(1)) if match else 0


def scenarios(n: int, per_page: int = 10) -> list[tuple[str, str, str, str]]:
    last = max(1, -(-n // per_page))
    return [
        ("first page", "GET", "/api/tasks", ""),
        ("filtered page", "GET", "/api/tasks?status=pending&priority=high", ""),
        ("text search", "GET", f"/api/tasks?q={WORDS[7]}", ""),
        ("deep page", "GET", f"/api/tasks?page={last}&per_page={per_page}", ""),
        ("get one", "GET", "/api/tasks/{id}", ""),
        ("put", "PUT", "/api/tasks/{id}", '{"status": "{status}"}'),
        # Every connection writes one task, without If-Match (last writer wins): each
        # write must be applied and answered 200, however many race (ERROR_FREE).
        ("hot spot put", "PUT", "/api/tasks/{first}", '{"status": "{status}"}'),
        ("post", "POST", "/api/tasks", '{"title": "bench task", "priority": "high"}'),
    ]


#: Scenarios whose every response must be 2xx: any other answer fails the run (wrk's
#: socket timeouts, on a loaded machine, are counted in ``errors`` but not refused).
ERROR_FREE = {"hot spot put"}


def bench_env(db: Database, workdir: Path, **extra: str) -> dict[str, str]:
    """A benchmarked ``doable serve``'s environment: production mode on ``db``, its
    instance folder in ``workdir``, rate limits off (the load would be refused)."""
    return {
        **os.environ,
        "DATABASE_URL": db.url,
        "SECRET_KEY": SECRET,
        "DOABLE_ENV": "production",
        "DOABLE_INSTANCE_PATH": str(workdir / "instance"),
        "DOABLE_RATELIMIT_ENABLED": "false",
        **extra,
    }


def start_servers(config: Config, db: Database, workdir: Path, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    env = bench_env(db, workdir, REDIS_URL=args.redis_url if config.redis else "")
    if config.workers > 1:
        # Several workers on one port: Socket.IO over WebSocket only (see the docstring).
        env["DOABLE_REALTIME_TRANSPORTS"] = "websocket"
    port, ceiling_port = free_port(), free_port()
    log = (workdir / f"{config.name}-serve.log").open("wb")
    server = subprocess.Popen(
        [
            DOABLE,
            "serve",
            "--port",
            str(port),
            "--workers",
            str(config.workers),
            "--worker-connections",
            str(args.worker_connections),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ceiling = subprocess.Popen(
        [
            GUNICORN,
            "--chdir",
            str(HERE),
            "-k",
            "doable.server.Worker",  # doable serve's own: its fairness and deadlines
            "-w",
            str(config.workers),
            "--worker-connections",
            str(args.worker_connections),
            "--keep-alive",
            "5",
            "-b",
            f"127.0.0.1:{ceiling_port}",
            "--access-logfile",
            "-",
            "--access-logformat",
            '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s',
            "ceiling:create_app()",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base, ceiling_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ceiling_port}"
    wait_up(f"{base}/healthz", server)
    wait_up(f"{ceiling_base}/ping", ceiling)
    return server, ceiling, base, ceiling_base


def start_tutorial_servers(  # type: ignore[no-untyped-def]
    config: Config, db: Database, workdir: Path, args: argparse.Namespace
):
    """The tutorial's app and its ceiling, each on gunicorn with 2 sync workers."""
    env = {**os.environ, "DATABASE_URL": db.url, "SECRET_KEY": SECRET}
    log = (workdir / f"{config.name}-serve.log").open("wb")
    processes, bases = [], []
    for module in ("app:app", "ceiling:app"):
        port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    GUNICORN,
                    "--chdir",
                    str(BASELINE),
                    "-k",
                    "sync",
                    "-w",
                    str(config.workers),
                    "-b",
                    f"127.0.0.1:{port}",
                    "--access-logfile",
                    "-",
                    "--access-logformat",
                    '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
                    module,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    # Any answer means up: both answer 401 without a token.
    wait_up(f"{bases[0]}/api/tasks", processes[0])
    wait_up(f"{bases[1]}/ping", processes[1])
    return processes[0], processes[1], bases[0], bases[1]


def prepare_database(
    config: Config, workdir: Path, args: argparse.Namespace, database: type[Database] = Database
) -> Database:
    """The configuration's fresh database, its schema created (by the app's own means).
    ``database``: a subclass names a PostgreSQL database of its own (two Doable
    databases side by side, as ``bench/feed.py`` runs)."""
    if config.app == "tutorial":
        tutorial = TutorialDatabase(config.backend, workdir, args.postgres_admin_url)
        tutorial.create_schema()
        return tutorial
    db = database(config.backend, workdir, args.postgres_admin_url)
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "SECRET_KEY": SECRET,
        "DOABLE_INSTANCE_PATH": str(workdir / "instance"),
    }
    subprocess.run([DOABLE, "db", "upgrade"], env=env, check=True, capture_output=True)
    return db


def login_token(db: Database, base: str, user_id: int) -> str:
    """The measured user's token: minted the tutorial's way, or from Doable's login."""
    if isinstance(db, TutorialDatabase):
        return db.token(user_id)
    login = requests.post(
        f"{base}/api/login", json={"username": "bench", "password": PASSWORD}, timeout=30
    )
    login.raise_for_status()
    return str(login.json()["token"])


def wanted(config: Config, name: str, args: argparse.Namespace) -> bool:
    """Whether to run scenario ``name``: asked for, and one the app has."""
    if config.app == "tutorial" and name in TUTORIAL_SKIPS:
        return False
    return not args.scenarios or name in args.scenarios


@dataclass
class Target:
    """One server under test: its database, the app and its ceiling, the measured user."""

    config: Config
    db: Database
    server: subprocess.Popen[bytes]
    ceiling: subprocess.Popen[bytes]
    base: str
    ceiling_base: str
    main_id: int
    token: str = ""
    ids: list[int] = field(default_factory=list)

    def close(self) -> None:
        stop(self.server)
        stop(self.ceiling)
        self.db.drop()


def open_target(config: Config, args: argparse.Namespace) -> Target:
    """A fresh database seeded with the other users' tasks, and its servers started."""
    workdir = Path(tempfile.mkdtemp(prefix=f"doable-bench-{config.name}-"))
    db = prepare_database(config, workdir, args)
    rng = random.Random(42)
    print(f"[{config.name}] seeding {OTHER_USERS} x {OTHER_TASKS} tasks of other users", flush=True)
    for k in range(OTHER_USERS):
        db.add_tasks(db.add_user(f"other{k}"), OTHER_TASKS, rng)
    main_id = db.add_user("bench")
    start = start_tutorial_servers if config.app == "tutorial" else start_servers
    server, ceiling, base, ceiling_base = start(config, db, workdir, args)
    target = Target(config, db, server, ceiling, base, ceiling_base, main_id)
    try:
        target.token = login_token(db, base, main_id)
    except BaseException:
        target.close()
        raise
    return target


def grow(target: Target, n: int) -> None:
    """Give the measured user ``n`` tasks (seeded after those it has)."""
    have = target.db.count_tasks(target.main_id)
    print(f"[{target.config.name}] N={n}: seeding {n - have} tasks", flush=True)
    target.db.add_tasks(target.main_id, n - have, random.Random(n))
    target.ids = _main_ids(target.db, target.main_id)


def measure(
    target: Target,
    scenario: tuple[str, str, str, str],
    n: int,
    run: int,
    args: argparse.Namespace,
    out: Path,
) -> Result:
    """One wrk run of ``scenario`` against ``target`` (or its ceiling: ``ceiling``)."""
    name, method, path, body = scenario
    base = target.ceiling_base if name == "ceiling" else target.base
    raw = out / f"{target.config.name}-{n}-r{run}-{name.replace(' ', '-')}.txt"
    first = str(target.ids[0])
    rps, p50, p99, err, total = run_wrk(
        base,
        target.token,
        method,
        path.replace("{first}", first),
        body,
        target.ids,
        args,
        raw,
    )
    refused = non_2xx(raw.read_text())
    print(
        f"[{target.config.name}] N={n} round {run} {name}: {rps:.0f} req/s p50 {p50:.1f} ms "
        f"p99 {p99:.1f} ms errors {err}",
        flush=True,
    )
    return Result(target.config.name, n, name, rps, p50, p99, err, total, refused, run)


def bench_layout(configs: list[Config], args: argparse.Namespace, out: Path) -> list[Result]:
    """``configs`` side by side (Doable and the tutorial's app on one backend): for each
    N, ``--rounds`` rounds, each running every scenario on each target in turn (the
    order alternating by round), so a slow spell of the machine hits both."""
    targets: list[Target] = []
    results: list[Result] = []
    try:
        for config in configs:
            targets.append(open_target(config, args))
        for n in args.sizes:
            for target in targets:
                grow(target, n)
            for run in range(1, args.rounds + 1):
                turn = targets if run % 2 else targets[::-1]
                for scenario in [("ceiling", "GET", "/ping", ""), *scenarios(n)]:
                    for target in turn:
                        if scenario[0] == "ceiling" or wanted(target.config, scenario[0], args):
                            results.append(measure(target, scenario, n, run, args, out))
                for target in turn:  # what POST added goes, so every round sees N tasks
                    target.db.trim(target.main_id, target.ids[-1])
                (out / "results.json").write_text(
                    json.dumps([asdict(r) for r in results], indent=1)
                )
    finally:
        for target in targets:
            target.close()
    return results


def _main_ids(db: Database, user_id: int) -> list[int]:
    """The measured user's task ids, in order (POST runs trimmed leave gaps)."""
    with db.engine.connect() as conn:
        query = sa.text("SELECT id FROM task WHERE user_id = :u ORDER BY id")
        return [int(i) for i in conn.execute(query, {"u": user_id}).scalars()]


def medians(results: list[Result]) -> list[Result]:
    """One row per (config, N, scenario): the median round's req/s, p50 and p99 (each
    its own median), and every round's errors added up."""
    groups: dict[tuple[str, int, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.config, r.n, r.scenario), []).append(r)
    return [
        Result(
            config,
            n,
            scenario,
            statistics.median(r.rps for r in runs),
            statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs),
            sum(r.errors for r in runs),
            sum(r.requests for r in runs),
            sum(r.non_2xx for r in runs),
            len(runs),
        )
        for (config, n, scenario), runs in groups.items()
    ]


def table(results: list[Result]) -> str:
    """Medians of each app next to its baseline (the tutorial's app on the same backend)
    and its ceiling; ``round`` in a median row is the number of rounds."""
    rows = medians(results)
    by_key = {(r.config, r.n, r.scenario): r for r in rows}
    lines = [
        "| config | N | scenario | req/s | of ceiling | p50 ms | p99 ms | non-2xx | errors "
        "| baseline req/s | baseline p50 ms | ÷ baseline |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.scenario == "ceiling" or r.config.startswith("tutorial"):
            continue
        ceiling = by_key[(r.config, r.n, "ceiling")].rps
        base = by_key.get((baseline_of(CONFIGS[r.config]).name, r.n, r.scenario))
        versus = (
            f"{base.rps:,.0f} | {base.p50_ms:.1f} | {r.rps / base.rps:.2f}x"
            if base
            else "— | — | —"
        )
        lines.append(
            f"| {r.config} | {r.n:,} | {r.scenario} | {r.rps:,.0f} | {r.rps / ceiling:.2f} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.non_2xx} | {r.errors} | {versus} |"
        )
    return "\n".join(lines)


def growth(results: list[Result]) -> str:
    """p50 at the largest N over p50 at the smallest, per config and scenario."""
    rows = medians(results)
    sizes = sorted({r.n for r in rows})
    p50 = {(r.config, r.n, r.scenario): r.p50_ms for r in rows}
    lines = ["| config | scenario | p50 growth |", "|---|---|---:|"]
    for r in rows:
        if (
            r.n != sizes[0]
            or r.scenario == "ceiling"
            or (r.config, sizes[-1], r.scenario) not in p50
        ):
            continue
        lines.append(
            f"| {r.config} | {r.scenario} "
            f"| {p50[(r.config, sizes[-1], r.scenario)] / r.p50_ms:.2f}x |"
        )
    return "\n".join(lines)


def baseline_of(config: Config) -> Config:
    """The tutorial's app on ``config``'s backend."""
    return CONFIGS[f"tutorial-{config.backend}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", default="prod-sqlite,prod-postgresql,embedded")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="leave out the tutorial's app (by default each config runs next to it)",
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size")
    parser.add_argument("--duration", type=int, default=8, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--scenarios",
        default="",
        help="comma-separated scenario names to run (default: all), e.g. 'hot spot put'",
    )
    parser.add_argument(
        "--worker-connections",
        type=int,
        default=10_000,
        help="connections per gevent worker, of doable serve and of the ceiling",
    )
    add_service_options(parser)
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.scenarios = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = HERE / "out" / stamp
    out.mkdir(parents=True)
    results: list[Result] = []
    for name in args.configs.split(","):
        config = CONFIGS[name]
        layout = [config]
        if not args.no_baseline and config.app == "doable":
            layout.append(baseline_of(config))
        results += bench_layout(layout, args, out)
        (out / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=1))
    report = table(results) + "\n\n" + growth(results)
    print(report)
    (out / "results.md").write_text(report + "\n")
    failed = [r for r in results if r.scenario in ERROR_FREE and r.non_2xx]
    if failed:
        names = ", ".join(f"{r.config} N={r.n} {r.scenario}: {r.non_2xx}" for r in failed)
        sys.exit(f"non-2xx answers in scenarios that must have none: {names}")


if __name__ == "__main__":
    main()
