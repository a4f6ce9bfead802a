"""Real ``doable serve`` processes for tests that need real HTTP between processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

DOABLE = str(Path(sys.executable).with_name("doable"))


def server_env(database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """The environment of a test ``doable serve``: its database, ``folder/instance``,
    the test secret, cheap password hashes and no Redis; ``extra`` adds or overrides."""
    from tests.conftest import TEST_SECRET

    return {
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "DOABLE_INSTANCE_PATH": str(folder / "instance"),
        "DOABLE_ARGON2_TIME_COST": "1",
        "DOABLE_ARGON2_MEMORY_COST": "1024",
        "DOABLE_ARGON2_PARALLELISM": "1",
        "REDIS_URL": "",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    env: dict[str, str],
    *args: str,
    log_path: Path,
    startup_timeout: float = 30.0,
    port: int | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``doable serve`` on ``port`` (default: a free one); return the process and
    its base URL once it answers. The caller stops it (``stop_server``)."""
    port = port or free_port()
    full_env = {**os.environ, **env}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [DOABLE, "serve", "--port", str(port), *args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log_path, startup_timeout)
    except BaseException:
        stop_server(process)
        raise
    return process, base


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def running_server(
    env: dict[str, str], *args: str, log_path: Path, startup_timeout: float = 30.0
) -> Iterator[str]:
    """Start ``doable serve`` on a free port and yield its base URL; stop it after."""
    process, base = start_server(env, *args, log_path=log_path, startup_timeout=startup_timeout)
    try:
        yield base
    finally:
        stop_server(process)


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"doable serve exited early:\n{log.read_text()}")
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or booting
            pass
        time.sleep(0.1)
    raise RuntimeError(f"doable serve did not answer within {limit}s:\n{log.read_text()}")


def wait_for(happened: Callable[[], bool], what: str, limit: float = 15.0) -> None:
    """Return as soon as ``happened()`` is true; fail, naming ``what``, after ``limit``
    seconds. The wait for an event a test can observe, never a guess at how long it takes."""
    deadline = time.monotonic() + limit
    while not happened():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit}s")
        time.sleep(0.02)


def logged(log_path: Path, line: str) -> Callable[[], bool]:
    """Whether the server has written ``line`` to its log (for ``wait_for``)."""
    return lambda: line in log_path.read_text(errors="replace")


def accepted(client: socket.socket) -> Callable[[], bool]:
    """Whether the server has accepted the connection of ``client`` (for ``wait_for``).

    Linux lists each TCP socket in /proc/net/tcp; the server's end of a connection has
    inode 0 while it waits in the listen queue and gets one when accept() opens it."""
    local, remote = (
        _proc_address(*address) for address in (client.getsockname(), client.getpeername())
    )

    def happened() -> bool:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if (fields[1], fields[2]) == (remote, local):
                return fields[9] != "0"
        return False

    return happened


def _proc_address(host: str, port: int) -> str:
    """``127.0.0.1``, 8080 as /proc/net/tcp writes it: ``0100007F:1F90``."""
    packed = socket.inet_aton(host)
    return f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"
