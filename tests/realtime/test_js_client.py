"""The official JavaScript client (``socket.io-client`` 4.8, tests/js) against real servers.

Node runs tests/js/listen.mjs, which reports each thing the client sees as one JSON line
on stdout. Without Node or its installed packages (``npm ci --prefix tests/js``, which
scripts/test runs) these tests skip, or fail with ``CI=true``.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_missing
from tests.realtime.conftest import Deployment
from tests.realtime.test_connect import claims_of, forged_access_token
from tests.support.factories import Account
from tests.support.realtime import WAIT, new_user

pytestmark = pytest.mark.slow

JS = Path(__file__).resolve().parents[1] / "js"
LISTEN = JS / "listen.mjs"
INSTALL = "run npm ci --prefix tests/js"


@pytest.fixture(scope="module")
def node() -> str:
    """The ``node`` executable, once the client tests/js/package-lock.json pins is installed."""
    executable = shutil.which("node")
    if executable is None:
        service_missing("Node.js is not installed (the JavaScript client tests need node)")
    assert executable is not None
    locked = json.loads((JS / "package-lock.json").read_text())
    wanted = locked["packages"]["node_modules/socket.io-client"]["version"]
    manifest = JS / "node_modules" / "socket.io-client" / "package.json"
    if not manifest.exists():
        service_missing(f"socket.io-client is not installed in tests/js: {INSTALL}")
    installed = json.loads(manifest.read_text())["version"]
    if installed != wanted:
        service_missing(
            f"tests/js has socket.io-client {installed}, its lock file {wanted}: {INSTALL}"
        )
    return executable


class NodeClient:
    """One ``node listen.mjs`` process; its report lines, read with bounded waits."""

    def __init__(self, node: str, *args: str, script: Path = LISTEN) -> None:
        self.process = subprocess.Popen(
            [node, str(script), *args],
            cwd=JS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.seen: list[dict[str, Any]] = []
        self.stderr = ""
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(json.loads(line))
        self._lines.put(None)  # node exited

    def next(self, timeout: float = WAIT) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"node reported nothing within {timeout:.1f}s; {self}") from None
        if line is None:
            self._lines.put(None)
            self.close()
            raise AssertionError(f"node exited with {self.process.returncode}; {self}")
        self.seen.append(line)
        return line

    def until(self, done: Callable[[dict[str, Any]], bool], timeout: float = WAIT) -> dict:
        """Read lines until one satisfies ``done`` (which is returned), within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(max(deadline - time.monotonic(), 0.0))
            if done(line):
                return line

    def event(self, name: str, timeout: float = WAIT) -> dict[str, Any]:
        """The first ``name`` event the server sends from now on, as reported."""
        return self.until(lambda line: line["type"] == "event" and line["event"] == name, timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # listen.mjs closes its socket and exits
            try:
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WAIT)
        self._reader.join(timeout=WAIT)  # it reads stdout to the end node left
        stdout, stderr = self.process.stdout, self.process.stderr
        if stdout is not None and stderr is not None and not stderr.closed:
            self.stderr = stderr.read()
            stderr.close()
            stdout.close()

    def __str__(self) -> str:
        lines = "\n".join(json.dumps(line) for line in self.seen)
        return f"it reported:\n{lines or '(nothing)'}\nstderr: {self.stderr or '(empty)'}"


@pytest.fixture
def js(node: str) -> Iterator[Callable[..., NodeClient]]:
    started: list[NodeClient] = []

    def start(base: str, token: str, transports: str, *flags: str) -> NodeClient:
        client = NodeClient(node, base, token, transports, *flags)
        started.append(client)
        return client

    yield start
    for client in started:
        client.close()


def make_task(user: Account, deployment: Deployment) -> dict[str, Any]:
    created = user.call("POST", "/api/tasks", base=deployment.change_url, json={"title": "Draft"})
    assert created.status_code == 201, created.text
    task: dict[str, Any] = created.json()
    return task


def rename(user: Account, deployment: Deployment, task_id: int, title: str) -> None:
    response = user.call(
        "PATCH", f"/api/tasks/{task_id}", base=deployment.change_url, json={"title": title}
    )
    assert response.status_code == 200, response.text


TROUBLE = {"disconnect", "connect_error", "upgrade_error", "manager_error", "reconnect_attempt"}


@pytest.mark.parametrize("deployment", ["sqlite"], indirect=True)  # polling needs one process
def test_default_options_start_on_polling_upgrade_and_receive_events(node, deployment, js):
    user = new_user(deployment.change_url)
    task = make_task(user, deployment)
    client = js(deployment.listen_url, user.token, "default")

    assert client.next() == {"type": "open", "transport": "polling"}, client
    # the Socket.IO connect and the engine's upgrade run side by side: either may be first
    client.until(lambda _: {"connect", "upgrade"} <= {line["type"] for line in client.seen})
    upgrades = [line for line in client.seen if line["type"] == "upgrade"]
    assert upgrades == [{"type": "upgrade", "transport": "websocket"}], client

    rename(user, deployment, task["id"], "Polled, then upgraded")
    updated = client.event("task_updated")
    assert updated["transport"] == "websocket"
    assert (updated["data"]["id"], updated["data"]["title"]) == (
        task["id"],
        "Polled, then upgraded",
    )
    assert updated["data"]["seq"] == 2  # created, renamed: its place in the feed
    assert not TROUBLE & {line["type"] for line in client.seen}, client


def test_websocket_only_connects_and_receives_events(node, deployment, js):
    user = new_user(deployment.change_url)
    task = make_task(user, deployment)
    client = js(deployment.listen_url, user.token, "websocket")

    connected = client.until(lambda line: line["type"] == "connect")
    assert connected["transport"] == "websocket"

    rename(user, deployment, task["id"], "Straight to WebSocket")
    updated = client.event("task_updated")
    assert (updated["data"]["id"], updated["data"]["title"]) == (
        task["id"],
        "Straight to WebSocket",
    )
    assert updated["data"]["seq"] == 2  # created, renamed: its place in the feed
    assert not TROUBLE & {line["type"] for line in client.seen}, client


def transports_of(deployment: Deployment) -> list[str]:
    """What a JavaScript client can use here: long-polling needs one process."""
    return ["default", "websocket"] if deployment.backend == "sqlite" else ["websocket"]


def refusal(js: Callable[..., NodeClient], base: str, token: str, transports: str) -> dict:
    client = js(base, token, transports, "--no-reconnection")
    line = client.until(lambda line: line["type"] in ("connect", "connect_error"))
    assert line["type"] == "connect_error", f"the connection was accepted; {client}"
    assert line["data"]["retry"] is False, client  # JSON false, as err.data.retry === false
    return line


def test_an_invalid_token_is_a_connect_error_the_client_can_read(node, deployment, js):
    for transports in transports_of(deployment):
        line = refusal(js, deployment.listen_url, "not-a-jwt", transports)
        assert line["message"] == "Invalid token", transports
        assert line["data"] == {"reason": "invalid_token", "retry": False}, transports


def test_an_expired_token_is_a_connect_error_the_client_can_read(node, deployment, js):
    user = new_user(deployment.change_url)
    session = claims_of(user.token)["sid"]
    expired = forged_access_token(user.id, session, exp=int(time.time()) - 5)
    for transports in transports_of(deployment):
        line = refusal(js, deployment.listen_url, expired, transports)
        assert "/api/token/refresh" in line["message"], transports
        assert line["data"] == {"reason": "token_expired", "retry": False}, transports
