"""Throwaway services for the fault tests, each on loopback and a free port of its own,
so a test can stop, kill and restart them without touching the shared PostgreSQL and
Redis the rest of the suite uses.

- ``own_postgres``: a fresh cluster (``initdb``, run as ``postgres`` when we are root);
- ``own_redis``: ``redis-server`` without persistence, as a child process;
- ``small_disk``: a 2 MiB tmpfs (root only) for the upload directory.

Without the binaries (or the right to mount) the tests skip with the reason on a
laptop; with ``CI=true`` they fail (``service_missing``).
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import sqlalchemy as sa

from doable.health import READY_FOR
from tests.conftest import service_missing
from tests.support import servers
from tests.support.factories import PASSWORD
from tests.support.servers import free_port

WAIT = 10.0  # the longest any one service operation may take
SMALL_DISK_BYTES = 2 * 1024 * 1024
#: Loopback only, nothing kept on disk (a restart comes back empty), in the foreground.
REDIS_OPTIONS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")


def server_env(database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """``doable serve`` in production mode (JSON logs), rate limits off unless asked."""
    production = {"DOABLE_ENV": "production", "DOABLE_RATELIMIT_ENABLED": "false", **extra}
    return servers.server_env(database_url, folder, **production)


# --- PostgreSQL ------------------------------------------------------------------------


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name) or shutil.which(name, path="/usr/local/bin")
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


RUNUSER = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")


class PostgresServer:
    """A PostgreSQL cluster of our own in a temporary directory."""

    def __init__(self, root: Path, initdb: str, pg_ctl: str, run_as: str | None) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.pg_ctl = pg_ctl
        self.run_as = run_as
        options = "-A trust -U postgres -E UTF8 --locale=C --no-sync --no-instructions"
        self._run(initdb, "-D", str(self.data), *options.split())

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=50"
        )
        log = str(self.root / "postgres.log")
        self._run(self.pg_ctl, "-D", str(self.data), "-l", log, "-o", options, *self._wait, "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session then shuts down; ``immediate`` is a crash."""
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, *self._wait, "stop")

    @property
    def _wait(self) -> tuple[str, ...]:
        return ("-w", "-t", str(int(WAIT)))

    def running(self) -> bool:
        done = self._run(self.pg_ctl, "-D", str(self.data), "status", check=False)
        return done.returncode == 0

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = [RUNUSER or "runuser", "-u", self.run_as, "--"] if self.run_as else []
        done = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=WAIT + 20, check=False
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        return done


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL of this test's own (stopped and removed after)."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not (initdb and pg_ctl):
        service_missing("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    run_as = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        if not RUNUSER:
            service_missing("running as root without runuser: cannot start PostgreSQL")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            service_missing("running as root and there is no postgres user to run initdb as")
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="doable-faults-pg-", dir="/tmp"))
    if run_as:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = None
    try:
        server = PostgresServer(root, str(initdb), str(pg_ctl), run_as)
        server.start()
        yield server
    finally:
        if server is not None and server.running():
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# --- Redis -----------------------------------------------------------------------------


class RedisServer:
    """``redis-server`` on a port of its own, without persistence: a restart is empty."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.process is None, "already running"
        log = (self.workdir / "redis.log").open("ab")
        with log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), *REDIS_OPTIONS, "--dir", str(self.workdir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WAIT
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, retry=None)
        with client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError((self.workdir / "redis.log").read_text())
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer within {WAIT}s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WAIT)
        self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin")
    if not binary:
        service_missing("redis-server is not installed")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(str(binary), workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


# --- a small filesystem ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a 2 MiB tmpfs: writing past that is a real ENOSPC."""
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        service_missing("mounting a small tmpfs for the disk-full test needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_BYTES},mode=0755", "tmpfs", mountpoint],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    if done.returncode != 0:
        service_missing(f"cannot mount a tmpfs for the disk-full test: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        umounted = subprocess.run(["umount", mountpoint], timeout=WAIT, check=False)
        if umounted.returncode != 0:  # a file still open: detach now, freed when closed
            subprocess.run(["umount", "-l", mountpoint], timeout=WAIT, check=False)


# --- checks shared by the tests --------------------------------------------------------


def register_and_log_in(base: str, name: str) -> str:
    """A new account's access token."""
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    registered = requests.post(f"{base}/api/register", json=body, timeout=WAIT)
    assert registered.status_code == 201, registered.text
    login = requests.post(
        f"{base}/api/login", json={"username": name, "password": PASSWORD}, timeout=WAIT
    )
    assert login.status_code == 200, login.text
    return str(login.json()["token"])


def assert_clean_problem(response: requests.Response, *statuses: int) -> dict[str, Any]:
    """An error answered as a Problem Details document that gives nothing away."""
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body


def log_records(path: Path) -> list[dict[str, Any]]:
    """Every line of a production server's log, each of which must be a JSON record (a
    traceback printed outside the logging setup would not be)."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{path.name}:{number} is not a JSON log line: {line}") from None
    return records


def readiness(base: str, status: int) -> requests.Response:
    """The first ``/readyz`` answer with ``status``: a process reuses its readiness result
    for ``READY_FOR`` seconds, so a change shows within that (plus one check's time)."""
    answers: list[requests.Response] = []

    def answered() -> bool:
        answers.append(requests.get(f"{base}/readyz", timeout=10))
        return answers[-1].status_code == status

    wait_until(answered, READY_FOR + 3, 0.05, what=f"/readyz answering {status}")
    return answers[-1]


def wait_until(condition: Any, timeout: float, interval: float = 0.1, what: str = "") -> float:
    """Call ``condition`` until it is true; how long that took. Bounded by ``timeout``."""
    started = time.monotonic()
    deadline = started + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return time.monotonic() - started
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {what} (last: {last!r})")
