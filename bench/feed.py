"""Change feed benchmark (issue 16): what the log costs a write, how long a client takes
to catch up, and how much disk the log takes.

1. **Writes with and without the log.** For each configuration (``prod-sqlite``,
   ``prod-postgresql``: ``doable serve --workers 2``, as ``bench/run.py`` starts it) two
   servers run side by side, each on its own database seeded with the same rows: the
   working tree ("with" the log) and the same server at ``--baseline-rev`` (default
   e814195, the commit before the log: "without"), extracted with ``git archive`` and run
   from the same virtualenv with its own ``PYTHONPATH``. Each round runs every write
   scenario with wrk on one, then on the other, the order alternating by round (A, B,
   B, A, …), so a slow spell of this shared machine hits both. Scenarios: ``post``
   (``POST /api/tasks``, one recipient: its owner), ``put`` (``PUT /api/tasks/<id>``
   of an unshared task: one recipient) and ``put shared`` (a task shared with 2 other
   users: three recipients, three feed entries). Every write changes its task (a new
   title each request), so none is a no-op that neither server writes. What POST added
   is removed after each round.
2. **Catch-up.** On the "with" database, a user who missed N changes (``--sizes``)
   reads them all through ``GET /api/events`` (``after=0``, ``limit=500``, following
   ``next_after`` while ``has_more``), timed from the client, ``--catchup-repeats``
   times. The missed changes are INSERTed directly, in bulk, as rows of the shape
   ``doable.changes.log`` writes for a PUT of a title (a ``change`` row
   ``{"title": [old, new]}``, one ``feed_entry`` per recipient, the ``feed_cursor``
   moved), not made through the API.
3. **Size.** The bytes the tables ``change``, ``feed_entry`` and ``feed_cursor`` and
   their indexes take (PostgreSQL: ``pg_total_relation_size``; SQLite: the pages the
   ``dbstat`` table lists for them) before and after ``--log-changes`` such changes with
   one recipient, then as many with three.

Raw output (every wrk run, its Lua script, ``results.json``, ``results.md``) goes to
``bench/out/<stamp>-feed/``. See bench/README.md, "Change feed".

    .venv/bin/python bench/feed.py                 # both databases, 4 rounds of 8 s
    .venv/bin/python bench/feed.py --quick         # a quick look (~2 min)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    CONFIGS,
    HERE,
    PASSWORD,
    Config,
    Database,
    Result,
    _main_ids,
    add_service_options,
    login_token,
    medians,
    non_2xx,
    prepare_database,
    run_wrk,
    start_servers,
    stop,
)

from doable.changes.models import Change, FeedCursor, FeedEntry

REPO = HERE.parent
#: ``run.WRK_SCRIPT``'s placeholders, but ``{n}`` in the body is new on every request:
#: a write that changes nothing is answered without writing (``NothingToChange``), by
#: both servers, and would dilute what the log costs.
FEED_SCRIPT = """
local method, template, body = "{method}", "{path}", [[{body}]]
local ids = {{{ids}}}
local headers = {{["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}}
local counter = 0
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  counter = counter + 1
  local id = ids[math.random(1, #ids)]
  if type(id) == "table" then  -- {{i = task id, t = its owner's token}}: many writers
    headers["Authorization"] = "Bearer " .. id.t
    id = id.i
  end
  local path = string.gsub(template, "{{id}}", tostring(id))
  local b = string.gsub(body, "{{n}}", math.random(1, 1000000000) .. "-" .. counter)
  return wrk.format(method, path, headers, b)
end
"""
#: (name, method, path, body, which of the user's tasks ``{id}`` is drawn from)
WRITES = [
    ("post", "POST", "/api/tasks", '{"title": "bench task {n}", "priority": "high"}', "all"),
    ("put", "PUT", "/api/tasks/{id}", '{"title": "bench title {n}"}', "unshared"),
    ("put shared", "PUT", "/api/tasks/{id}", '{"title": "bench title {n}"}', "shared"),
    # As ``put``, but each request as one of WRITERS users, on a task of theirs: how much
    # of the cost is one user's writes taking turns on their feed's cursor.
    ("put 16 users", "PUT", "/api/tasks/{id}", '{"title": "bench title {n}"}', "writers"),
]
SHAREES = 2
WRITERS, WRITER_TASKS = 16, 50
LOG_TABLES = ("change", "feed_entry", "feed_cursor")


class WithoutLogDatabase(Database):
    """The baseline's database: its own PostgreSQL database next to the working tree's."""


@dataclass
class Side:
    """One server of a pair: ``with`` the log (the working tree) or ``without`` it."""

    label: str
    config: Config
    db: Database
    server: subprocess.Popen[bytes]
    base: str
    main_id: int
    token: str
    ids: list[int]
    shared: list[int]
    unshared: list[int]
    #: Lua ``{i = task id, t = token}`` of the WRITERS users' tasks
    writers: list[str] = field(default_factory=list)

    def close(self) -> None:
        stop(self.server)
        self.db.drop()


@contextlib.contextmanager
def pythonpath(src: Path) -> Iterator[None]:
    """Run what ``bench/run.py`` starts (``doable db upgrade``, ``doable serve``) from
    ``src``: it passes this process's environment on."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(src)
    try:
        yield
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def extract(rev: str, into: Path) -> Path:
    """``src/`` of ``rev``, extracted under ``into``; its path."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def open_side(
    config: Config, label: str, src: Path, args: argparse.Namespace, database: type[Database]
) -> Side:
    """A fresh database of ``config``'s backend, migrated and served by the code in
    ``src``, seeded with the same rows whichever the side: 2 sharees, then the measured
    user with ``--tasks`` tasks, the first half shared with both sharees."""
    side_config = Config(f"{config.name}-{label}", config.backend, config.workers, config.redis)
    workdir = Path(tempfile.mkdtemp(prefix=f"doable-feedbench-{side_config.name}-"))
    with pythonpath(src):
        db = prepare_database(side_config, workdir, args, database)
    sharees = [db.add_user(f"sharee{k}") for k in range(1, SHAREES + 1)]
    main_id = db.add_user("bench")
    db.add_tasks(main_id, args.tasks, random.Random(42))
    writers = {f"writer{k}": db.add_user(f"writer{k}") for k in range(1, WRITERS + 1)}
    for k, writer in enumerate(writers.values()):
        db.add_tasks(writer, WRITER_TASKS, random.Random(k))
    ids = _main_ids(db, main_id)
    shared, unshared = ids[: len(ids) // 2], ids[len(ids) // 2 :]
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO share (task_id, user_id, permission, created_at, updated_at) "
                "VALUES (:t, :u, 'view', :now, :now)"
            ),
            [{"t": t, "u": u, "now": now} for t in shared for u in sharees],
        )
    db.analyze()
    print(f"[{side_config.name}] seeded; starting doable serve from {src}", flush=True)
    with pythonpath(src):
        server, ceiling, base, _ = start_servers(side_config, db, workdir, args)
    stop(ceiling)  # run.py's ceiling: not measured here
    try:
        token = login_token(db, base, main_id)
        tokens = {name: login(base, name) for name in writers}
    except BaseException:
        stop(server)
        db.drop()
        raise
    pairs = [
        f'{{i = {task}, t = "{tokens[name]}"}}'
        for name, writer in writers.items()
        for task in _main_ids(db, writer)
    ]
    return Side(label, side_config, db, server, base, main_id, token, ids, shared, unshared, pairs)


def write_rounds(sides: list[Side], args: argparse.Namespace, out: Path) -> list[Result]:
    """``--rounds`` rounds of every write scenario on each side in turn, the order
    alternating by round; what POST added is removed after each round."""
    results = []
    for run in range(1, args.rounds + 1):
        turn = sides if run % 2 else sides[::-1]
        for name, method, path, body, pool in WRITES:
            for side in turn:
                ids = {
                    "all": side.ids,
                    "shared": side.shared,
                    "unshared": side.unshared,
                    "writers": side.writers,
                }[pool]
                raw = out / f"{side.config.name}-r{run}-{name.replace(' ', '-')}.txt"
                rps, p50, p99, err, total = run_wrk(
                    side.base, side.token, method, path, body, ids, args, raw, FEED_SCRIPT
                )
                refused = non_2xx(raw.read_text())
                results.append(
                    Result(
                        side.config.name, args.tasks, name, rps, p50, p99, err, total, refused, run
                    )
                )
                print(
                    f"[{side.config.name}] round {run} {name}: {rps:.0f} req/s "
                    f"p50 {p50:.1f} ms p99 {p99:.1f} ms errors {err}",
                    flush=True,
                )
        for side in sides:
            side.db.trim(side.main_id, side.ids[-1])
    return results


def seed_feed(db: Database, users: list[int], count: int, actor_id: int, tasks: list[int]) -> None:
    """``count`` changes (a PUT's title, on ``tasks`` in turn) by ``actor_id``, each in the
    feeds of all ``users``: rows as ``doable.changes.log`` writes them, INSERTed in bulk."""
    at = datetime.now(UTC)
    with db.engine.begin() as conn:
        first = (
            int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(Change.id), 0))).scalar_one())
            + 1
        )
        tops = dict(
            conn.execute(
                sa.select(FeedCursor.user_id, FeedCursor.last_seq).where(
                    FeedCursor.user_id.in_(users)
                )
            ).all()
        )
        for start in range(0, count, 5000):
            chunk = range(start, min(count, start + 5000))
            conn.execute(
                sa.insert(Change),
                [
                    {
                        "id": first + i,
                        "at": at,
                        "actor_id": actor_id,
                        "entity": "task",
                        "entity_id": tasks[i % len(tasks)],
                        "task_id": tasks[i % len(tasks)],
                        "action": "updated",
                        "version": i + 2,
                        "changes": {"title": [f"bench title {i}", f"bench title {i + 1}"]},
                    }
                    for i in chunk
                ],
            )
            conn.execute(
                sa.insert(FeedEntry),
                [
                    {
                        "user_id": u,
                        "seq": tops.get(u, 0) + i + 1,
                        "change_id": first + i,
                        "data": None,
                    }
                    for i in chunk
                    for u in users
                ],
            )
        conn.execute(sa.delete(FeedCursor).where(FeedCursor.user_id.in_(users)))
        conn.execute(
            sa.insert(FeedCursor),
            [{"user_id": u, "last_seq": tops.get(u, 0) + count} for u in users],
        )
        if db.backend == "postgresql":  # the ids were given: move the sequence past them
            conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('change', 'id'), :last)"),
                {"last": first + count - 1},
            )


def analyze_log(db: Database) -> None:
    """What autovacuum soon does after a burst of changes on a live PostgreSQL (it is
    off on this machine's): the log's statistics, which the feed's page needs."""
    maintenance = (
        "VACUUM ANALYZE change, feed_entry, feed_cursor"
        if db.backend == "postgresql"
        else "ANALYZE"
    )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(maintenance))


def log_bytes(db: Database) -> int:
    """Bytes of the log's tables and their indexes."""
    with db.engine.connect() as conn:
        if db.backend == "postgresql":
            conn.execute(sa.text("CHECKPOINT"))
            query = " + ".join(f"pg_total_relation_size('{t}')" for t in LOG_TABLES)
            return int(conn.execute(sa.text(f"SELECT {query}")).scalar_one())
        return int(
            conn.execute(
                sa.text(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name IN "
                    "(SELECT name FROM sqlite_master WHERE tbl_name IN "
                    "('change', 'feed_entry', 'feed_cursor'))"
                )
            ).scalar_one()
        )


def login(base: str, username: str) -> str:
    answer = requests.post(
        f"{base}/api/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def catch_up(base: str, token: str, expected: int) -> dict[str, float]:
    """Read a whole feed as a client does; its time, requests and bytes."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    after, events, calls, size = 0, 0, 0, 0
    began = time.perf_counter()
    while True:
        answer = session.get(
            f"{base}/api/events", params={"after": after, "limit": 500}, timeout=120
        )
        answer.raise_for_status()
        page = answer.json()
        calls += 1
        size += len(answer.content)
        events += len(page["events"])
        after = page["next_after"]
        if not page["has_more"]:
            break
    seconds = time.perf_counter() - began
    if events != expected:
        raise RuntimeError(f"read {events} events of {expected}")
    return {"seconds": seconds, "requests": calls, "bytes": size, "events": events}


def feed_measures(side: Side, args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """Catch-up times and the log's size, on the "with" side's database (after its
    write rounds)."""
    db = side.db
    catchups = []
    for size in args.sizes:
        user = db.add_user(f"catchup{size}")
        seed_feed(db, [user], size, side.main_id, side.unshared)
        token = login(side.base, f"catchup{size}")
        # Once as the burst left the statistics, then as autovacuum would leave them.
        for repeat in range(args.catchup_repeats + 1):
            if repeat == 1:
                analyze_log(db)
            measured = catch_up(side.base, token, size)
            catchups.append(
                {
                    "config": side.config.name,
                    "changes": size,
                    "repeat": repeat,
                    "analyzed": repeat > 0,
                    **measured,
                }
            )
            print(
                f"[{side.config.name}] catch-up of {size:,}"
                f"{'' if repeat else ' (before ANALYZE)'}: {measured['seconds']:.2f} s "
                f"({measured['requests']} requests)",
                flush=True,
            )
    sizes = []
    for recipients in (1, 3):
        users = [db.add_user(f"size{recipients}-{k}") for k in range(recipients)]
        before = log_bytes(db)
        seed_feed(db, users, args.log_changes, side.main_id, side.unshared)
        analyze_log(db)
        grown = log_bytes(db) - before
        sizes.append(
            {
                "config": side.config.name,
                "recipients": recipients,
                "changes": args.log_changes,
                "bytes": grown,
                "bytes_per_change": grown / args.log_changes,
            }
        )
        print(
            f"[{side.config.name}] {args.log_changes:,} changes to {recipients} recipient(s): "
            f"{grown / 1e6:.1f} MB",
            flush=True,
        )
    return catchups, sizes


def written(side: Side) -> int:
    """Changes the "with" side logged (a check that the log was being written)."""
    with side.db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(Change)).scalar_one())


def write_table(results: list[Result]) -> str:
    """Per configuration and scenario: medians over the rounds of each side, the ratio
    of the medians, and the range of the per-round ratios (same round, both sides)."""
    rows = {(r.config, r.scenario): r for r in medians(results)}
    lines = [
        "| config | scenario | without req/s | with req/s | with ÷ without req/s "
        "| per-round ratios | without p50 / p99 ms | with p50 / p99 ms | with ÷ without p50 "
        "| non-2xx / errors |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for (config, scenario), mine in rows.items():
        if not config.endswith("-with"):
            continue
        name = config.removesuffix("-with")
        other = rows[(f"{name}-without", scenario)]
        ratios = sorted(
            r.rps / o.rps
            for r in results
            for o in results
            if r.config == config
            and o.config == f"{name}-without"
            and r.scenario == o.scenario == scenario
            and r.round == o.round
        )
        lines.append(
            f"| {name} | {scenario} | {other.rps:,.0f} | {mine.rps:,.0f} "
            f"| {mine.rps / other.rps:.2f} | {ratios[0]:.2f}-{ratios[-1]:.2f} "
            f"| {other.p50_ms:.1f} / {other.p99_ms:.1f} | {mine.p50_ms:.1f} / {mine.p99_ms:.1f} "
            f"| {mine.p50_ms / other.p50_ms:.2f} "
            f"| {mine.non_2xx + other.non_2xx} / {mine.errors + other.errors} |"
        )
    return "\n".join(lines)


def catchup_table(catchups: list[dict]) -> str:
    """Per configuration and size: the read before the log's ANALYZE, and the median
    and range of the reads after it."""
    lines = [
        "| config | changes missed | requests | MB read | seconds before ANALYZE "
        "| seconds (median) | range | events/s |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    groups: dict[tuple[str, int], list[dict]] = {}
    for c in catchups:
        groups.setdefault((c["config"].removesuffix("-with"), c["changes"]), []).append(c)
    for (config, changes), runs in groups.items():
        cold = [r["seconds"] for r in runs if not r["analyzed"]]
        seconds = sorted(r["seconds"] for r in runs if r["analyzed"])
        median = statistics.median(seconds)
        lines.append(
            f"| {config} | {changes:,} | {runs[0]['requests']} | {runs[0]['bytes'] / 1e6:.1f} "
            f"| {cold[0]:.2f} | {median:.2f} | {seconds[0]:.2f}-{seconds[-1]:.2f} "
            f"| {changes / median:,.0f} |"
        )
    return "\n".join(lines)


def size_table(sizes: list[dict]) -> str:
    lines = [
        "| config | recipients | changes | MB | bytes per change | MB per 100,000 changes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        lines.append(
            f"| {s['config'].removesuffix('-with')} | {s['recipients']} | {s['changes']:,} "
            f"| {s['bytes'] / 1e6:.1f} | {s['bytes_per_change']:,.0f} "
            f"| {s['bytes_per_change'] * 100_000 / 1e6:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", default="prod-sqlite,prod-postgresql")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--worker-connections", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1000, help="the measured user's tasks")
    parser.add_argument(
        "--baseline-rev", default="e814195", help="the server without the log (git revision)"
    )
    parser.add_argument("--sizes", default="1000,100000", help="changes missed, for catch-up")
    parser.add_argument("--catchup-repeats", type=int, default=3)
    parser.add_argument(
        "--log-changes", type=int, default=100_000, help="changes written to measure the size"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a quick look: 2 rounds of 2 s, catch-up of 1,000 once, size of 10,000 changes",
    )
    add_service_options(parser)
    args = parser.parse_args()
    # A SIGTERM ends the run through the ``finally`` that stops the servers and drops
    # the databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    if args.quick:
        args.rounds, args.duration, args.sizes = 2, 2, "1000"
        args.catchup_repeats, args.log_changes = 1, 10_000
    args.sizes = [int(s) for s in args.sizes.split(",")]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = HERE / "out" / f"{stamp}-feed"
    out.mkdir(parents=True)
    scratch = Path(tempfile.mkdtemp(prefix="doable-feedbench-"))
    baseline_src = extract(args.baseline_rev, scratch / "baseline")
    head = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    report: dict[str, object] = {"with": head, "without": args.baseline_rev, "args": vars(args)}
    results: list[Result] = []
    catchups: list[dict] = []
    sizes: list[dict] = []
    logged: dict[str, int] = {}

    def save() -> None:
        report.update(
            writes=[asdict(r) for r in results], catchup=catchups, size=sizes, logged=logged
        )
        (out / "results.json").write_text(json.dumps(report, indent=1, default=str))

    for name in args.configs.split(","):
        config = CONFIGS[name]
        sides: list[Side] = []
        try:
            sides.append(open_side(config, "without", baseline_src, args, WithoutLogDatabase))
            sides.append(open_side(config, "with", REPO / "src", args, Database))
            results += write_rounds(sides, args, out)
            logged[name] = written(sides[1])
            save()
            more_catchups, more_sizes = feed_measures(sides[1], args)
            catchups += more_catchups
            sizes += more_sizes
            save()
        finally:
            for side in sides:
                side.close()
    tables = (
        f"Writes, with the log ({head}) and without it ({args.baseline_rev}); "
        f"{args.rounds} interleaved rounds of {args.duration} s, medians\n\n"
        + write_table(results)
        + "\n\nCatch-up through GET /api/events (limit 500)\n\n"
        + catchup_table(catchups)
        + "\n\nThe log's size (change + feed_entry + feed_cursor, with indexes)\n\n"
        + size_table(sizes)
    )
    print(tables)
    (out / "results.md").write_text(tables + "\n")


if __name__ == "__main__":
    main()
