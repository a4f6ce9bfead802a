"""What a client can hold, over real servers: open sockets cost no request slot, and
hostile clients (idle sockets that never say who they are, slow headers, slow bodies,
too many sockets, events the server never asked for) are bounded.

Each backend runs its own deployment with small bounds, so they are quick to reach:
``sqlite`` is one ``doable serve`` (the embedded default); ``postgresql`` is two
single-worker instances on one PostgreSQL and one Redis (the production layout), so
the per-user cap is counted across processes. The servers trust one proxy hop, so each
test picks its client address with ``X-Forwarded-For`` and the per-address cap of one
test never meets another's sockets.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import socketio
import websocket

from tests.conftest import REDIS_TEST_URL
from tests.realtime.conftest import _env, shared_services
from tests.support.factories import Account
from tests.support.realtime import WAIT, new_user
from tests.support.servers import running_server

pytestmark = pytest.mark.slow

CONNECT_TIMEOUT = 2
HEADER_TIMEOUT = 3
BODY_GRACE = 2
BODY_MIN_RATE = 100
PER_USER = 3
PER_ADDRESS = 4
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


@dataclass
class Bounded:
    backend: str
    urls: list[str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bounded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("bounds")
    bounds = {
        "DOABLE_RATELIMIT_ENABLED": "false",
        "DOABLE_PROXY_HOPS": "1",
        "DOABLE_REALTIME_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "DOABLE_REALTIME_MAX_SOCKETS_PER_USER": str(PER_USER),
        "DOABLE_REALTIME_MAX_SOCKETS_PER_ADDRESS": str(PER_ADDRESS),
        "DOABLE_REQUEST_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "DOABLE_REQUEST_BODY_TIMEOUT": str(BODY_GRACE),
        "DOABLE_REQUEST_BODY_MIN_RATE": str(BODY_MIN_RATE),
    }
    with ExitStack() as stack:
        if request.param == "sqlite":
            env = _env(f"sqlite:///{tmp / 'doable.sqlite3'}", tmp, **bounds)
            yield Bounded(
                "sqlite", [stack.enter_context(running_server(env, log_path=tmp / "a.log"))]
            )
            return
        database_url, prefix = shared_services(request, stack)
        env = _env(
            database_url, tmp, REDIS_URL=REDIS_TEST_URL, DOABLE_REDIS_PREFIX=prefix, **bounds
        )
        urls = [stack.enter_context(running_server(env, log_path=tmp / f"{n}.log")) for n in "ab"]
        yield Bounded("postgresql", urls)


class RawSocket:
    """An Engine.IO WebSocket spoken by hand: it answers pings, and sends the Socket.IO
    ``CONNECT`` only when told to (a stranger's idle socket never does)."""

    def __init__(self, base: str, address: str) -> None:
        url = f"ws://{urlsplit(base).netloc}/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(
            url, timeout=WAIT, header=[f"X-Forwarded-For: {address}"]
        )
        self.opened_at = time.monotonic()
        first = self.ws.recv()
        assert first.startswith("0{"), first
        self.closed = False

    def connect(self, token: str) -> tuple[str, Any]:
        """Send ``CONNECT`` with the token; ("connected", sid) or ("refused", payload)."""
        self.ws.send("40" + json.dumps({"token": token}))
        packet = self.receive()
        assert packet is not None, "closed instead of answering CONNECT"
        if packet.startswith("0"):  # Socket.IO CONNECT
            return "connected", json.loads(packet[1:])["sid"]
        assert packet.startswith("4"), packet  # CONNECT_ERROR
        return "refused", json.loads(packet[1:])

    def receive(self, limit: float = WAIT) -> str | None:
        """The next Socket.IO packet (an Engine.IO message's payload, pings answered on
        the way); None once closed."""
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0:
            self.ws.settimeout(left)
            try:
                packet = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                break
            except (websocket.WebSocketConnectionClosedException, OSError):
                packet = ""
            if packet in ("", "1"):  # closed, or Engine.IO "close"
                self.closed = True
                return None
            if packet == "2":
                self.ws.send("3")
                continue
            if packet.startswith("4"):
                return packet[1:]
        raise AssertionError(f"nothing arrived within {limit}s")

    def seconds_until_closed(self, limit: float) -> float:
        """Wait for the server to close this socket; seconds since it was opened."""
        deadline = time.monotonic() + limit
        while not self.closed:
            left = deadline - time.monotonic()
            assert left > 0, f"still open after {limit}s"
            try:
                self.receive(left)
            except AssertionError:
                continue
        return time.monotonic() - self.opened_at

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def raw_sockets() -> Iterator[list[RawSocket]]:
    held: list[RawSocket] = []
    yield held
    for raw in held:
        raw.close()


def raw(held: list[RawSocket], base: str, address: str) -> RawSocket:
    held.append(RawSocket(base, address))
    return held[-1]


def timed_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, float]:
    started = time.perf_counter()
    response = requests.get(url, headers=headers, timeout=WAIT)
    return response.status_code, time.perf_counter() - started


def test_more_open_sockets_than_request_threads_leave_the_api_answering(bounded, raw_sockets):
    """The old server held a thread per socket, 8 by default: 8 open pages froze it."""
    users = [new_user(bounded.urls[-1], "many") for _ in range(12)]
    for n, user in enumerate(users * 2):  # 24 sockets, two per user, over every process
        base = bounded.urls[n % len(bounded.urls)]
        assert raw(raw_sockets, base, next(_addresses)).connect(user.token)[0] == "connected"
    for _ in range(8):  # plus strangers' sockets that never connect
        raw(raw_sockets, bounded.urls[0], next(_addresses))
    auth = {"Authorization": f"Bearer {users[0].token}"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: timed_get(f"{bounded.urls[0]}/api/tasks", auth), range(24))
        )
    assert {status for status, _ in answers} == {200}
    assert max(seconds for _, seconds in answers) < 2.0, answers
    # ... and every authenticated socket still hears its events.
    created = users[0].call("POST", "/api/tasks", json={"title": "heard"})
    for sock in (raw_sockets[0], raw_sockets[12]):  # the two sockets of users[0]
        packet = sock.receive()
        assert packet is not None
        assert packet.startswith('2["task_created"')
        assert json.loads(packet[1:])[1]["id"] == created.json()["id"]


def test_a_socket_that_never_connects_is_closed_after_the_timeout(bounded, raw_sockets):
    user = new_user(bounded.urls[0], "idle")
    stranger = raw(raw_sockets, bounded.urls[0], next(_addresses))
    member = raw(raw_sockets, bounded.urls[0], next(_addresses))
    assert member.connect(user.token)[0] == "connected"

    closed_after = stranger.seconds_until_closed(CONNECT_TIMEOUT + 4)
    assert CONNECT_TIMEOUT - 0.5 <= closed_after <= CONNECT_TIMEOUT + 2
    # The authenticated socket opened at the same moment is still open and served.
    created = user.call("POST", "/api/tasks", json={"title": "still here"})
    packet = member.receive()
    assert packet is not None
    assert json.loads(packet[1:])[1]["id"] == created.json()["id"]


def test_sockets_per_user_are_capped_across_processes(bounded):
    user = new_user(bounded.urls[0], "capped")
    clients = []
    try:
        for n in range(PER_USER):
            clients.append(_client(bounded.urls[n % len(bounded.urls)], user))
        refusal = _refusal(bounded.urls[-1], user)
        assert refusal["data"] == {"reason": "user_socket_limit", "retry": True}
        assert "too many open connections" in refusal["message"]

        clients.pop().disconnect()  # one closes: the next may open
        clients.append(_eventually_connected(bounded.urls[-1], user))
    finally:
        for client in clients:
            client.disconnect()


def test_sockets_per_address_are_capped(bounded, raw_sockets):
    user = new_user(bounded.urls[0], "crowd")
    crowded = next(_addresses)
    for _ in range(PER_ADDRESS - 1):  # idle ones count too
        raw(raw_sockets, bounded.urls[0], crowded)
    assert raw(raw_sockets, bounded.urls[0], crowded).connect(user.token)[0] == "connected"

    kind, refusal = raw(raw_sockets, bounded.urls[0], crowded).connect(user.token)
    assert kind == "refused"
    assert refusal["data"] == {"reason": "address_socket_limit", "retry": True}
    elsewhere = raw(raw_sockets, bounded.urls[0], next(_addresses))
    assert elsewhere.connect(user.token)[0] == "connected"


def test_a_client_that_sends_events_is_disconnected(bounded, raw_sockets):
    """The server expects no events: a client sending them is not ours."""
    user = new_user(bounded.urls[0], "chatty")
    chatty = raw(raw_sockets, bounded.urls[0], next(_addresses))
    assert chatty.connect(user.token)[0] == "connected"
    sent = time.monotonic()
    chatty.ws.send('42["do_work",{"n":1}]')
    chatty.seconds_until_closed(WAIT)
    assert time.monotonic() - sent < 2
    quiet = raw(raw_sockets, bounded.urls[0], next(_addresses))
    assert quiet.connect(user.token)[0] == "connected"


def test_python_client_with_default_options_polls_then_upgrades(bounded):
    user = new_user(bounded.urls[0], "poll")
    client = socketio.Client(reconnection=False)
    events: list[Any] = []
    client.on("task_created", events.append)
    client.connect(
        bounded.urls[0],
        auth={"token": user.token},
        headers={"X-Forwarded-For": next(_addresses)},
        wait_timeout=WAIT,
    )
    try:
        created = user.call("POST", "/api/tasks", json={"title": "over either transport"})
        deadline = time.monotonic() + WAIT
        while not events and time.monotonic() < deadline:
            client.sleep(0.05)
        assert [event["id"] for event in events] == [created.json()["id"]]
    finally:
        client.disconnect()


class Trickler:
    """Raw connections that send a request a byte at a time, one byte every 0.5 s."""

    def __init__(self, base: str, head: bytes, tail: bytes, count: int) -> None:
        netloc = urlsplit(base).netloc
        host, port = netloc.rsplit(":", 1)
        self.socks = []
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=WAIT)
            sock.sendall(head)
            self.socks.append((sock, time.monotonic()))
        self.tail = tail
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        for byte in itertools.cycle(self.tail):
            if self.stop.wait(0.5):
                return
            for sock, _ in self.socks:
                with contextlib.suppress(OSError):  # closed by the server: what is checked
                    sock.send(bytes([byte]))

    def answers(self, limit: float) -> list[tuple[bytes, float]]:
        """What the server sent back on each connection before closing it, and when."""
        out = []
        for sock, opened in self.socks:
            sock.settimeout(max(0.1, opened + limit - time.monotonic()))
            data = b""
            try:
                while chunk := sock.recv(4096):
                    data += chunk
            except TimeoutError:
                raise AssertionError(f"a slow connection was still open after {limit}s") from None
            except ConnectionResetError:
                pass
            out.append((data, time.monotonic() - opened))
        return out

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock, _ in self.socks:
            sock.close()


def test_slow_headers_and_slow_bodies_neither_block_others_nor_stay(bounded):
    base = bounded.urls[0]
    user = new_user(base, "slow")
    slow_headers = Trickler(
        base, b"GET /api/tasks HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 100, 30
    )
    body = json.dumps({"refresh_token": user.refresh_token}).encode().ljust(2000)
    slow_bodies = Trickler(
        base,
        b"POST /api/token/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode(),
        body,
        30,
    )
    try:
        auth = {"Authorization": f"Bearer {user.token}"}
        answers = [timed_get(f"{base}/api/tasks", auth) for _ in range(10)]
        assert {status for status, _ in answers} == {200}
        assert max(seconds for _, seconds in answers) < 1.0, answers

        for data, seconds in slow_headers.answers(HEADER_TIMEOUT + 3):
            assert data == b""  # closed without an answer, as an idle keep-alive
            assert HEADER_TIMEOUT - 0.5 <= seconds <= HEADER_TIMEOUT + 2.5
        for data, seconds in slow_bodies.answers(BODY_GRACE + 4):
            head, _, problem = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), data[:200]
            assert b"Connection: close" in head
            assert json.loads(problem)["status"] == 408
            assert seconds <= BODY_GRACE + 3
    finally:
        slow_headers.close()
        slow_bodies.close()
    # Nothing of a slow body was taken as a request: the refresh token is unused.
    refreshed = requests.post(
        f"{base}/api/token/refresh", json={"refresh_token": user.refresh_token}, timeout=WAIT
    )
    assert refreshed.status_code == 200, refreshed.text


def _connect(client: socketio.Client, base: str, user: Account) -> None:
    client.connect(
        base,
        auth={"token": user.token},
        headers={"X-Forwarded-For": next(_addresses)},
        transports=["websocket"],
        wait_timeout=WAIT,
    )


def _client(base: str, user: Account) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    _connect(client, base, user)
    return client


def _refusal(base: str, user: Account) -> dict[str, Any]:
    client = socketio.Client(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", lambda data=None: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(client, base, user)
    assert errors, "refused without a connect_error"
    return errors[0]


def _eventually_connected(base: str, user: Account) -> socketio.Client:
    """The server forgets a closed socket as soon as it notices the close: retry a
    refusal for the cap briefly, as a client told ``retry: true`` would."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return _client(base, user)
        except socketio.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _polling(base: str, address: str, method: str = "GET", sid: str | None = None, body=None):
    params = {"EIO": "4", "transport": "polling", **({"sid": sid} if sid else {})}
    return requests.request(
        method,
        f"{base}/socket.io/",
        params=params,
        data=body,
        headers={"X-Forwarded-For": address, "Content-Type": "text/plain;charset=UTF-8"},
        timeout=WAIT,
    )


def test_a_polling_session_that_never_polls_again_expires_and_later_ones_too(bounded, raw_sockets):
    """Closing a long-polling session must not wait for the client to read the close
    packet (it never polls again): the deadline keeps working for every later one."""
    address = next(_addresses)
    opened = _polling(bounded.urls[0], address)
    assert opened.status_code == 200
    sid = json.loads(opened.text[1:])["sid"]
    stranger = raw(raw_sockets, bounded.urls[0], next(_addresses))
    assert stranger.seconds_until_closed(CONNECT_TIMEOUT + 4) <= CONNECT_TIMEOUT + 2
    assert _polling(bounded.urls[0], address, sid=sid).status_code == 400  # gone
    later = raw(raw_sockets, bounded.urls[0], next(_addresses))
    assert later.seconds_until_closed(CONNECT_TIMEOUT + 4) <= CONNECT_TIMEOUT + 2


def test_a_client_sending_events_over_polling_is_disconnected_at_once(bounded):
    user = new_user(bounded.urls[0], "chattypoll")
    address = next(_addresses)
    sid = json.loads(_polling(bounded.urls[0], address).text[1:])["sid"]
    connect = "40" + json.dumps({"token": user.token})
    assert _polling(bounded.urls[0], address, "POST", sid, connect).text == "OK"
    assert _polling(bounded.urls[0], address, sid=sid).text.startswith("40{")
    started = time.monotonic()
    sent = _polling(bounded.urls[0], address, "POST", sid, '42["do_work",{"n":1}]')
    assert sent.status_code == 200
    assert time.monotonic() - started < 2  # answered, not held by the disconnect
    after = _polling(bounded.urls[0], address, sid=sid)
    assert after.status_code == 400 or after.text.endswith("1"), after.text  # closed


def test_a_revoked_login_leaves_no_engine_session_open(bounded, raw_sockets):
    """The server ends the Socket.IO connection of a login that ended; the Engine.IO
    session under it must connect again within the deadline, or is closed."""
    user = new_user(bounded.urls[0], "revoked")
    sock = raw(raw_sockets, bounded.urls[0], next(_addresses))
    assert sock.connect(user.token)[0] == "connected"
    assert user.call("POST", "/api/logout").status_code == 204
    dropped = sock.receive()
    assert dropped == "1", dropped  # Socket.IO DISCONNECT
    revoked_at = time.monotonic()
    sock.seconds_until_closed(CONNECT_TIMEOUT + 4)
    assert time.monotonic() - revoked_at <= CONNECT_TIMEOUT + 2


def test_handshakes_past_twice_the_address_cap_are_refused(bounded, raw_sockets):
    crowded = next(_addresses)
    for _ in range(2 * PER_ADDRESS):
        raw(raw_sockets, bounded.urls[0], crowded)
    with pytest.raises(websocket.WebSocketBadStatusException):
        raw(raw_sockets, bounded.urls[0], crowded)
    raw(raw_sockets, bounded.urls[0], next(_addresses))  # others are not affected
