"""Real-time capacity benchmark: many open sockets, a wide fan-out, hostile idle clients.

For each layout it starts its own ``doable serve`` process(es) on loopback, registers
``--recipients`` users through the API (1,000; the first ``--users``, 100, hold the
sockets of the first measurement, so each of them holds many), and measures:

(a) **hold**: opens N authenticated Socket.IO connections (``--hold-embedded`` 2,000,
    ``--hold-production`` 10,000), holds them ``--hold-seconds`` (60) while a light REST
    load runs (``--rest-rate`` 50 requests a second, alternating ``GET /api/tasks`` and
    ``GET /api/tasks/<id>``, each timed with ``time.perf_counter``), then reports the
    REST p50/p99/max and errors, the sockets opened, refused and dropped by the server
    during the hold, and the server's memory per socket: the resident memory (``VmRSS``
    from /proc) of the server processes and all their children after opening, minus
    before, divided by the sockets opened;
(b) **fan-out**: one owner shares one task with the other 999 users, every user holds
    one socket (the owner too), then the owner changes the task's title ``--updates``
    times (20), one every ``--gap`` seconds (1); per change and recipient it records the
    time from just before the ``PATCH`` was sent to that ``task_updated`` arriving
    (matched on the title), and reports p50/p99/max per delivery and the time until the
    last of the 1,000 had it;
(c) **hostile**: ``--idle`` (500) unauthenticated Engine.IO sockets (the websocket is
    opened and pings answered, the Socket.IO ``CONNECT`` is never sent) and ``--slow``
    (200) slow-header connections (plain TCP: ``GET /api/tasks HTTP/1.1``, ``Host``,
    then one more header byte every 2 s) are opened, and the same REST load runs for
    ``--hostile-seconds`` (30). It reports the REST figures (over the whole phase, and
    over the part before the server closed the first hostile connection) and how many
    idle sockets and slow connections the server had closed by the end, with the time
    each was closed after it was opened (TCP connect); expected: about
    ``DOABLE_REALTIME_CONNECT_TIMEOUT`` and ``DOABLE_REQUEST_HEADER_TIMEOUT`` (10 s
    each, left at their defaults).

Layouts:

- ``embedded``: one ``doable serve`` (one gevent worker), SQLite, no Redis: what
  ``./scripts/serve`` runs;
- ``production``: two single-worker ``doable serve`` processes on ports of their own (the
  recommended layout) sharing a fresh PostgreSQL database (created and dropped here) and
  the local Redis; every group of clients and the REST load are split evenly over both.

Both run with ``DOABLE_ENV=production`` and a fixed ``SECRET_KEY``, and with settings that
the benchmark needs and a real deployment would not use: rate limiting off
(``DOABLE_RATELIMIT_ENABLED=false``; every client is 127.0.0.1),
``DOABLE_REALTIME_MAX_SOCKETS_PER_ADDRESS`` raised above the sockets one process holds
(every Engine.IO session of the benchmark comes from 127.0.0.1),
``DOABLE_REALTIME_MAX_SOCKETS_PER_USER`` raised to twice the sockets each of the
``--users`` holds in (a), argon2 at its cheapest (time cost 1, 1 MiB, 1 lane) so that
registering and logging in 1,000 users is quick, and access tokens valid for an hour
(``DOABLE_ACCESS_TOKEN_TTL``) so one login per user serves the whole run. Everything
else is at its default.

The clients: the sockets are held by ``--client-processes`` (2) child processes, each an
asyncio loop with a small Engine.IO v4 / Socket.IO v5 client of its own over WebSocket
(``ws://host/socket.io/?EIO=4&transport=websocket``; python-socketio's client costs a
thread per connection), written on ``wsproto`` (already installed: python-engineio and
Doable depend on simple-websocket, which depends on it; nothing else is needed). They open
sockets with at most ``--concurrency`` (200) handshakes in flight in all, and raise their
open-files limit to the hard one. The REST load runs in the main process (a thread pool,
one keep-alive ``requests`` session per thread and port), on a fixed schedule (an open
model: a slow answer does not delay the next request). Clients and servers share the
machine's cores: the CPU time of the servers, the socket clients and the REST client is
reported per phase, as a percentage of one core.

Loopback only; every loop is bounded in count and time, and it stops by itself. Output:
``bench/out/sockets-<UTC stamp>/``: ``results.json`` (figures), ``raw-<layout>.json``
(every REST sample, delivery and close time), ``<layout>-serve-<k>.log`` (server logs),
and a table on stdout. Needs PostgreSQL and Redis as bench/run.py does
(``--postgres-admin-url``, ``--redis-url``).

    .venv/bin/python bench/sockets.py                          # both layouts, ~6 min
    .venv/bin/python bench/sockets.py --layouts embedded --hold-embedded 200 \\
        --recipients 100 --users 20 --hold-seconds 10 --updates 5 --idle 50 --slow 20 \\
        --hostile-seconds 15                                   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import redis
import requests
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fanout import percentile
from run import (
    DOABLE,
    HERE,
    Database,
    add_service_options,
    bench_env,
    free_port,
    stop,
    wait_up,
)

PASSWORD = "bench-password"
HOST = "127.0.0.1"
SOCKET_PATH = "/socket.io/?EIO=4&transport=websocket"
SLOW_REQUEST = b"GET /api/tasks HTTP/1.1\r\nHost: x\r\n"
SLOW_HEADER = b"X-Slow: " + b"a" * 200  # one byte of it every --slow-interval seconds
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------
# The socket clients (child processes, one asyncio loop each)
# --------------------------------------------------------------------------------------


class EioSocket(asyncio.Protocol):
    """One Engine.IO v4 session over WebSocket; with a token it sends the Socket.IO
    ``CONNECT`` and records ``task_updated`` arrivals, without one it only answers pings."""

    def __init__(self, client: SocketClient, token: str | None, host: str, port: int) -> None:
        self.client = client
        self.token = token
        self.host, self.port = host, port
        client.serial += 1
        self.key = f"{os.getpid()}:{client.serial}"  # unique over all client processes
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.ready: asyncio.Future[str | None] = client.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.parts: list[str] = []
        self.opened_at = 0.0  # TCP connected (perf_counter)
        self.closed_at: float | None = None  # when the server closed it
        self.closed_how = ""
        self.closing = False  # closed by us

    # -- the wire
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.opened_at = time.perf_counter()
        self._send(Request(host=f"{self.host}:{self.port}", target=SOCKET_PATH))

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, TextMessage):
                self.parts.append(event.data)
                if event.message_finished:
                    text = "".join(self.parts)
                    self.parts.clear()
                    self._packet(text)
            elif isinstance(event, Ping):
                self._send(event.response())
            elif isinstance(event, CloseConnection):
                self._server_closed("websocket close")
                self._send(event.response())
                self._close_transport()
            elif isinstance(event, RejectConnection):
                self._finish(f"http {event.status_code}")
                self._close_transport()
            elif isinstance(event, AcceptConnection):
                pass

    def connection_lost(self, exc: Exception | None) -> None:
        self._server_closed("eof" if exc is None else type(exc).__name__)
        self._finish("connection lost")

    def _send(self, event: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.transport.write(self.ws.send(event))
            except Exception:  # wsproto refuses to send in a closed state
                self._close_transport()

    def _close_transport(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # -- Engine.IO / Socket.IO
    def _packet(self, text: str) -> None:
        kind = text[:1]
        if kind == "2":  # ping -> pong
            self._send(TextMessage(data="3" + text[1:]))
        elif kind == "0":  # open
            if self.token is None:
                self._finish(None)
            else:
                self._send(TextMessage(data="40" + json.dumps({"token": self.token})))
        elif kind == "4":
            self._socketio(text[1:2], text[2:])
        elif kind == "1":
            self._server_closed("engine.io close")

    def _socketio(self, kind: str, body: str) -> None:
        if kind == "2":  # an event
            self.client.event(self, body)
        elif kind == "0":  # CONNECT accepted
            self._finish(None)
        elif kind == "4":  # CONNECT refused: {"message", "data": {"reason", "retry"}}
            try:
                reason = json.loads(body).get("data", {}).get("reason", "refused")
            except (ValueError, AttributeError):
                reason = "refused"
            self._finish(f"refused: {reason}")
            self.close()
        elif kind == "1":
            self._server_closed("socket.io disconnect")

    def _finish(self, outcome: str | None) -> None:
        if not self.ready.done():
            self.ready.set_result(outcome)

    def _server_closed(self, how: str) -> None:
        if self.closed_at is None and not self.closing:
            self.closed_at = time.perf_counter()
            self.closed_how = how

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self._send(CloseConnection(code=1000))
            self.transport.close()


class SlowHeaders:
    """A connection that sends a request line and ``Host``, then one more header byte
    every ``interval`` seconds, until the server closes it or ``limit`` seconds pass."""

    def __init__(self) -> None:
        self.opened_at = 0.0
        self.closed_at: float | None = None
        self.closed_how = ""
        self.answer = b""

    async def run(self, host: str, port: int, interval: float, limit: float) -> None:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            self.opened_at = time.perf_counter()
            writer.write(SLOW_REQUEST)
            deadline = self.opened_at + limit
            sent = 0
            while time.perf_counter() < deadline and sent < len(SLOW_HEADER):
                try:
                    data = await asyncio.wait_for(reader.read(4096), interval)
                except TimeoutError:
                    writer.write(SLOW_HEADER[sent : sent + 1])
                    sent += 1
                    continue
                if not data:
                    self._closed("eof")
                    return
                self.answer += data[:200]
        except (ConnectionError, OSError) as exc:
            if self.opened_at:
                self._closed(type(exc).__name__)
        finally:
            if writer is not None:
                writer.close()

    def _closed(self, how: str) -> None:
        if self.closed_at is None:
            self.closed_at = time.perf_counter()
            self.closed_how = how


class SocketClient:
    """A child process's state: its groups of sockets and the events they received."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        self.groups: dict[str, list[EioSocket]] = {}
        self.slow: dict[str, list[SlowHeaders]] = {}
        self.tasks: dict[str, set[asyncio.Task[None]]] = {}
        self.arrivals: list[tuple[str, str, float]] = []
        self.serial = 0

    def event(self, sock: EioSocket, payload: str) -> None:
        at = time.perf_counter()
        if not payload.startswith('["task_updated"'):
            return
        try:
            title = json.loads(payload)[1]["title"]
        except (ValueError, LookupError, TypeError):
            return
        self.arrivals.append((sock.key, title, at))

    async def open_one(
        self, target: list[Any], gate: asyncio.Semaphore, timeout: float
    ) -> tuple[EioSocket | None, str | None]:
        host, port, token = target
        sock = EioSocket(self, token, host, port)
        async with gate:
            try:
                await asyncio.wait_for(
                    self.loop.create_connection(lambda: sock, host, port), timeout
                )
                outcome = await asyncio.wait_for(asyncio.shield(sock.ready), timeout)
            except TimeoutError:
                outcome = "timeout"
            except OSError as exc:
                outcome = f"connect: {exc.strerror or type(exc).__name__}"
        if outcome is not None:
            sock.close()
            return None, outcome
        return sock, None

    async def command(self, message: dict[str, Any]) -> Any:
        cmd = message["cmd"]
        if cmd == "open":
            started = time.perf_counter()
            gate = asyncio.Semaphore(message["concurrency"])
            outcomes = await asyncio.gather(
                *(self.open_one(t, gate, message["timeout"]) for t in message["targets"])
            )
            group = self.groups.setdefault(message["group"], [])
            group += [sock for sock, _ in outcomes if sock is not None]
            return {
                "opened": sum(sock is not None for sock, _ in outcomes),
                "failed": Counter(reason for _, reason in outcomes if reason is not None),
                "seconds": time.perf_counter() - started,
            }
        if cmd == "slow":
            group = self.slow.setdefault(message["group"], [])
            for host, port in message["targets"]:
                conn = SlowHeaders()
                group.append(conn)
                task = self.loop.create_task(
                    conn.run(host, port, message["interval"], message["limit"])
                )
                tasks = self.tasks.setdefault(message["group"], set())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.5)
            return {"started": sum(c.opened_at > 0 for c in group)}
        if cmd == "report":
            since = message.get("since", 0.0)
            conns: list[Any] = self.groups.get(message["group"], [])
            conns = conns + self.slow.get(message["group"], [])
            closed = [c for c in conns if c.closed_at is not None]
            return {
                "held": len(conns),
                "closed": len(closed),
                "closed_since": sum(c.closed_at >= since for c in closed),
                "closed_after": [c.closed_at - c.opened_at for c in closed],
                "closed_at": [c.closed_at for c in closed],
                "how": Counter(c.closed_how for c in closed),
                "answers": Counter(
                    c.answer.split(b"\r\n", 1)[0].decode(errors="replace")
                    for c in conns
                    if getattr(c, "answer", b"")
                ),
            }
        if cmd == "close":
            for sock in self.groups.pop(message["group"], []):
                sock.close()
            for task in list(self.tasks.pop(message["group"], ())):
                task.cancel()
            self.slow.pop(message["group"], None)
            await asyncio.sleep(0.2)
            return {}
        if cmd == "events":
            arrivals, self.arrivals = self.arrivals, []
            return arrivals
        raise ValueError(cmd)

    async def serve(self) -> None:
        while True:
            try:
                message = await self.loop.run_in_executor(None, self.conn.recv)
            except (EOFError, OSError):
                return  # the main process is gone
            if message["cmd"] == "quit":
                return
            self.conn.send(await self.command(message))


def client_main(conn: Connection) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def main() -> None:
        await SocketClient(conn).serve()

    asyncio.run(main())


class Clients:
    """The child processes, driven over pipes: each command goes to all of them."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=client_main, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [int(p.pid) for p in self.processes if p.pid is not None]

    def all(self, messages: list[dict[str, Any]], timeout: float) -> list[Any]:
        for pipe, message in zip(self.pipes, messages, strict=True):
            pipe.send(message)
        replies = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise RuntimeError(f"a socket client did not answer {messages[0]['cmd']}")
            replies.append(pipe.recv())
        return replies

    def same(self, message: dict[str, Any], timeout: float = 60) -> list[Any]:
        return self.all([message] * len(self.pipes), timeout)

    def split(self, message: dict[str, Any], items: list[Any], timeout: float) -> list[Any]:
        """Send ``items`` dealt out round-robin over the clients as ``targets``."""
        k = len(self.pipes)
        return self.all([{**message, "targets": items[i::k]} for i in range(k)], timeout)

    def quit(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send({"cmd": "quit"})
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


# --------------------------------------------------------------------------------------
# Measuring processes: resident memory and CPU from /proc
# --------------------------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by the servers, the socket clients and this process between two points,
    as a percentage of one core, and how busy the whole machine was."""

    def __init__(self, servers: list[int], clients: list[int]) -> None:
        self.servers, self.clients = servers, clients
        self.start = self.sample()

    def sample(self) -> tuple[float, float, float, float, tuple[int, int]]:
        server_pids = [p for s in self.servers for p in tree(s)]
        return (
            time.monotonic(),
            cpu_seconds(server_pids),
            cpu_seconds(self.clients),
            cpu_seconds([os.getpid()]),
            machine_busy(),
        )

    def read(self) -> dict[str, float]:
        t1, s1, c1, m1, (b1, a1) = self.sample()
        t0, s0, c0, m0, (b0, a0) = self.start
        wall = max(t1 - t0, 1e-9)
        return {
            "seconds": round(wall, 1),
            "server_cpu_pct": round(100 * (s1 - s0) / wall, 1),
            "socket_clients_cpu_pct": round(100 * (c1 - c0) / wall, 1),
            "rest_client_cpu_pct": round(100 * (m1 - m0) / wall, 1),
            "machine_busy_pct": round(100 * (b1 - b0) / max(a1 - a0, 1), 1),
        }


class Timeline:
    """Every ``step`` seconds while it runs: CPU seconds used so far by the servers, the
    socket clients and this process, and the machine's busy and total jiffies; kept in
    the raw output to tell a latency spike of the server from one of a busy machine."""

    def __init__(self, meter: CpuMeter, step: float = 0.5) -> None:
        self.meter, self.step = meter, step
        self.rows: list[tuple[float, float, float, float, int, int]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(self.step):
            _, server, clients, main, (busy, total) = self.meter.sample()
            self.rows.append((time.perf_counter(), server, clients, main, busy, total))
            if len(self.rows) > 100_000:
                return

    def stop(self) -> list[tuple[float, float, float, float, int, int]]:
        self.done.set()
        self.thread.join(5)
        return self.rows


# --------------------------------------------------------------------------------------
# The REST side (main process)
# --------------------------------------------------------------------------------------


class Api:
    """Keep-alive sessions, one per thread and server port."""

    def __init__(self, bases: list[str]) -> None:
        self.bases = bases
        self.local = threading.local()

    def session(self, base: str) -> requests.Session:
        sessions = self.local.__dict__.setdefault("sessions", {})
        if base not in sessions:
            sessions[base] = requests.Session()
        return sessions[base]

    def call(
        self, n: int, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """Through the ``n``-th server, round-robin."""
        base = self.bases[n % len(self.bases)]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.session(base).request(
            method, f"{base}{path}", headers=headers, timeout=30, **kwargs
        )


def rest_load(
    api: Api, token: str, task_ids: list[int], seconds: float, rate: float
) -> list[tuple[float, float, bool]]:
    """``rate`` GETs a second for ``seconds``, alternating the first page of the list and
    one task, on a fixed schedule; each sample is (sent at, seconds, ok)."""
    samples: list[tuple[float, float, bool]] = []
    lock = threading.Lock()

    def fire(n: int) -> None:
        path = "/api/tasks" if n % 2 == 0 else f"/api/tasks/{task_ids[(n // 2) % len(task_ids)]}"
        sent = time.perf_counter()
        try:
            ok = api.call(n // 2, "GET", path, token).status_code == 200
        except requests.RequestException:
            ok = False
        with lock:
            samples.append((sent, time.perf_counter() - sent, ok))

    started = time.monotonic()
    total = int(seconds * rate)
    with ThreadPoolExecutor(16) as pool:
        for n in range(total):
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(fire, n)
    return sorted(samples)


def latency(samples: list[tuple[float, float, bool]]) -> dict[str, float | int]:
    times = [s[1] * 1000 for s in samples]
    if not times:
        return {"requests": 0, "errors": 0}
    return {
        "requests": len(samples),
        "errors": sum(not s[2] for s in samples),
        "p50_ms": round(percentile(times, 50), 1),
        "p99_ms": round(percentile(times, 99), 1),
        "max_ms": round(max(times), 1),
    }


def spread(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "min_s": round(min(values), 2),
        "p50_s": round(percentile(values, 50), 2),
        "max_s": round(max(values), 2),
    }


# --------------------------------------------------------------------------------------
# One layout
# --------------------------------------------------------------------------------------


def register(api: Api, n: int) -> tuple[int, str]:
    name = f"sock{n}"
    body = {"username": name, "email": f"{name}@bench.example", "password": PASSWORD}
    created = api.call(n, "POST", "/api/register", json=body)
    created.raise_for_status()
    login = api.call(n, "POST", "/api/login", json={"username": name, "password": PASSWORD})
    login.raise_for_status()
    return int(created.json()["user_id"]), str(login.json()["token"])


def start_servers(
    layout: str, processes: int, env: dict[str, str], out: Path, connections: int
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    servers: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    try:
        # One after the other: each applies the migrations before it serves.
        for k in range(processes):
            port = free_port()
            with (out / f"{layout}-serve-{k}.log").open("wb") as log:
                command = [DOABLE, "serve", "--port", str(port)]
                command += ["--worker-connections", str(connections)]
                servers.append(
                    subprocess.Popen(
                        command,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            ports.append(port)
            wait_up(f"http://{HOST}:{port}/healthz", servers[-1])
    except BaseException:
        for server in servers:
            stop(server)
        raise
    return servers, ports


class Run:
    """One layout's servers, users and clients, as the three measurements use them."""

    def __init__(
        self, args: argparse.Namespace, clients: Clients, ports: list[int], server_pids: list[int]
    ) -> None:
        self.args, self.clients, self.ports, self.server_pids = args, clients, ports, server_pids
        self.api = Api([f"http://{HOST}:{port}" for port in ports])
        self.users: list[tuple[int, str]] = []
        self.owner = ""
        self.task_ids: list[int] = []

    def seed(self) -> None:
        """The users and their tokens, and the tasks the REST load reads."""
        with ThreadPoolExecutor(8) as pool:
            self.users = list(
                pool.map(lambda n: register(self.api, n), range(self.args.recipients))
            )
        self.owner = self.users[0][1]
        for i in range(50):
            task = self.api.call(i, "POST", "/api/tasks", self.owner, json={"title": f"rest {i}"})
            self.task_ids.append(int(task.json()["id"]))
        self.rest(2)  # warm-up, not measured

    def rest(self, seconds: float) -> list[tuple[float, float, bool]]:
        return rest_load(self.api, self.owner, self.task_ids, seconds, self.args.rest_rate)

    def port(self, i: int) -> int:
        """The server of the ``i``-th connection (dealt out so each client has a share of
        every server)."""
        return self.ports[(i // len(self.clients.pipes)) % len(self.ports)]

    def meter(self) -> CpuMeter:
        return CpuMeter(self.server_pids, self.clients.pids)

    def server_rss(self) -> int:
        return rss_kib([p for s in self.server_pids for p in tree(s)])

    def open(
        self, group: str, targets: list[list[Any]], timeout: float
    ) -> tuple[int, Counter[str], float]:
        """Open ``targets`` (host, port, token or None); (opened, failures, seconds)."""
        per_client = max(1, self.args.concurrency // len(self.clients.pipes))
        replies = self.clients.split(
            {"cmd": "open", "group": group, "concurrency": per_client, "timeout": timeout},
            targets,
            timeout=len(targets) + 120,
        )
        failed: Counter[str] = sum((Counter(r["failed"]) for r in replies), Counter())
        return sum(r["opened"] for r in replies), failed, max(r["seconds"] for r in replies)

    def report(self, group: str, since: float = 0.0) -> dict[str, Any]:
        replies = self.clients.same({"cmd": "report", "group": group, "since": since})
        merged: dict[str, Any] = {
            "closed_since": sum(r["closed_since"] for r in replies),
            "closed_after": [x for r in replies for x in r["closed_after"]],
            "closed_at": [x for r in replies for x in r["closed_at"]],
        }
        for key in ("how", "answers"):
            merged[key] = dict(sum((Counter(r[key]) for r in replies), Counter()))
        return merged


def measure_hold(run: Run, hold: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a) ``hold`` sockets over ``--users`` users, held under the light REST load."""
    args = run.args
    time.sleep(2)
    before = run.server_rss()
    meter = run.meter()
    targets = [[HOST, run.port(i), run.users[i % args.users][1]] for i in range(hold)]
    opened, failed, seconds = run.open("hold", targets, timeout=60)
    cpu_open = meter.read()
    print(
        f"  hold: {opened}/{hold} open in {seconds:.1f} s, failed {dict(failed)}; {cpu_open}",
        flush=True,
    )
    time.sleep(3)
    after = run.server_rss()
    since = time.perf_counter()
    meter = run.meter()
    samples = run.rest(args.hold_seconds)
    cpu_hold = meter.read()
    report = run.report("hold", since)
    run.clients.same({"cmd": "close", "group": "hold"})
    result = {
        "target": hold,
        "opened": opened,
        "failed": dict(failed),
        "open_seconds": round(seconds, 1),
        "opened_per_second": round(opened / max(seconds, 1e-9)),
        "dropped_during_hold": report["closed_since"],
        "dropped_before_hold": len(report["closed_after"]) - report["closed_since"],
        "dropped_how": report["how"],
        "hold_seconds": args.hold_seconds,
        "server_rss_before_mib": round(before / 1024, 1),
        "server_rss_after_mib": round(after / 1024, 1),
        "server_kib_per_socket": round((after - before) / max(opened, 1), 1),
        "rest": latency(samples),
        "cpu_opening": cpu_open,
        "cpu_holding": cpu_hold,
    }
    return result, {"hold_rest": samples}


def measure_fanout(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """(b) one task shared with every other user, each user one socket, ``--updates``
    changes to it."""
    args, api, owner = run.args, run.api, run.owner
    task = api.call(0, "POST", "/api/tasks", owner, json={"title": "fan-out start"}).json()

    def share(n: int) -> None:
        body = {"username": f"sock{n}", "permission": "view"}
        api.call(n, "POST", f"/api/tasks/{task['id']}/share", owner, json=body).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(share, range(1, args.recipients)))
    targets = [[HOST, run.port(i), run.users[i][1]] for i in range(args.recipients)]
    opened, failed, _ = run.open("fanout", targets, timeout=60)
    run.clients.same({"cmd": "events"})
    time.sleep(1)
    meter = run.meter()
    sent: dict[str, float] = {}
    answered: list[float] = []
    patch_errors = 0
    for n in range(args.updates):
        title = f"fan-out {n}"
        sent[title] = at = time.perf_counter()
        response = api.call(n, "PATCH", f"/api/tasks/{task['id']}", owner, json={"title": title})
        answered.append((time.perf_counter() - at) * 1000)
        patch_errors += response.status_code != 200
        time.sleep(max(0.0, at + args.gap - time.perf_counter()))
    seen: dict[tuple[str, str], float] = {}
    arrived = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for chunk in run.clients.same({"cmd": "events"}):
            for sock, title, at in chunk:
                if title in sent:
                    arrived += 1
                    seen.setdefault((sock, title), at)
        if len(seen) >= opened * len(sent):
            break
        time.sleep(0.5)
    cpu = meter.read()
    run.clients.same({"cmd": "close", "group": "fanout"})
    each = [(at - sent[title]) * 1000 for (_, title), at in seen.items()]
    last_of: dict[str, float] = {}
    for (_, title), at in seen.items():
        last_of[title] = max(last_of.get(title, 0.0), (at - sent[title]) * 1000)
    last = list(last_of.values())

    def pct(values: list[float], p: float) -> float | None:
        return round(percentile(values, p), 1) if values else None

    result = {
        "recipients": opened,
        "recipients_target": args.recipients,
        "failed": dict(failed),
        "changes": len(sent),
        "deliveries": len(each),
        "missing": opened * len(sent) - len(each),
        "duplicates": arrived - len(seen),
        "patch_errors": patch_errors,
        "event_p50_ms": pct(each, 50),
        "event_p99_ms": pct(each, 99),
        "event_max_ms": pct(each, 100),
        "last_p50_ms": pct(last, 50),
        "last_p99_ms": pct(last, 99),
        "last_max_ms": pct(last, 100),
        "patch_p50_ms": pct(answered, 50),
        "patch_max_ms": pct(answered, 100),
        "cpu": cpu,
    }
    return result, {"fanout_each_ms": each, "fanout_last_ms": last}


def measure_hostile(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """(c) idle Engine.IO sockets and slow-header connections under the REST load."""
    args = run.args
    meter = run.meter()
    idle = [[HOST, run.port(i), None] for i in range(args.idle)]
    idle_open, idle_failed, _ = run.open("idle", idle, timeout=30)
    started = run.clients.split(
        {
            "cmd": "slow",
            "group": "slow",
            "interval": args.slow_interval,
            "limit": args.hostile_seconds + 10,
        },
        [[HOST, run.port(i)] for i in range(args.slow)],
        timeout=60,
    )
    samples = run.rest(args.hostile_seconds)
    cpu = meter.read()
    idle_report, slow_report = run.report("idle"), run.report("slow")
    run.clients.same({"cmd": "close", "group": "idle"})
    run.clients.same({"cmd": "close", "group": "slow"})
    first_close = min(idle_report["closed_at"] + slow_report["closed_at"], default=math.inf)
    result = {
        "idle_opened": idle_open,
        "idle_failed": dict(idle_failed),
        "idle_closed": len(idle_report["closed_after"]),
        "idle_closed_after": spread(idle_report["closed_after"]),
        "idle_closed_how": idle_report["how"],
        "slow_opened": sum(r["started"] for r in started),
        "slow_closed": len(slow_report["closed_after"]),
        "slow_closed_after": spread(slow_report["closed_after"]),
        "slow_closed_how": slow_report["how"],
        "slow_answers": slow_report["answers"],
        "rest": latency(samples),
        "rest_before_first_close": latency([s for s in samples if s[0] < first_close]),
        "cpu": cpu,
    }
    raw = {
        "hostile_rest": samples,
        "idle_closed_after_s": idle_report["closed_after"],
        "slow_closed_after_s": slow_report["closed_after"],
    }
    return result, raw


def server_env(
    layout: str, hold: int, db: Database, workdir: Path, args: argparse.Namespace
) -> tuple[dict[str, str], int]:
    """The servers' environment (module docstring), and their --worker-connections."""
    processes = 2 if layout == "production" else 1
    per_process = -(-max(hold, args.recipients) // processes)
    env = bench_env(
        db,
        workdir,
        DOABLE_REDIS_PREFIX=f"doable-sockets-{os.getpid()}-{layout}",
        DOABLE_ARGON2_TIME_COST="1",
        DOABLE_ARGON2_MEMORY_COST="1024",
        DOABLE_ARGON2_PARALLELISM="1",
        DOABLE_ACCESS_TOKEN_TTL="3600",
        DOABLE_REALTIME_MAX_SOCKETS_PER_USER=str(2 * math.ceil(hold / args.users) + 10),
        DOABLE_REALTIME_MAX_SOCKETS_PER_ADDRESS=str(per_process + args.idle + 1000),
        REDIS_URL=args.redis_url if layout == "production" else "",
    )
    return env, max(10_000, per_process + args.idle + args.slow + 1000)


def forget_redis_keys(url: str, prefix: str) -> None:
    store = redis.Redis.from_url(url)
    keys = list(store.scan_iter(f"{prefix}*", count=1000))
    for chunk in range(0, len(keys), 500):
        store.delete(*keys[chunk : chunk + 500])
    store.close()


def bench_layout(
    layout: str, hold: int, clients: Clients, args: argparse.Namespace, out: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    processes = 2 if layout == "production" else 1
    workdir = Path(tempfile.mkdtemp(prefix=f"doable-sockets-{layout}-"))
    backend = "postgresql" if layout == "production" else "sqlite"
    db = Database(backend, workdir, args.postgres_admin_url)
    env, connections = server_env(layout, hold, db, workdir, args)
    result: dict[str, Any] = {
        "layout": layout,
        "processes": processes,
        "backend": backend,
        "redis": layout == "production",
        "settings": {k: v for k, v in env.items() if k.startswith("DOABLE_")},
        "worker_connections": connections,
    }
    raw: dict[str, Any] = {}
    servers: list[subprocess.Popen[bytes]] = []
    try:
        servers, ports = start_servers(layout, processes, env, out, connections)
        run = Run(args, clients, ports, [s.pid for s in servers])
        started = time.monotonic()
        run.seed()
        print(
            f"[{layout}] {len(run.users)} users in {time.monotonic() - started:.0f} s", flush=True
        )
        for name, measure in (
            ("hold", lambda: measure_hold(run, hold)),
            ("fanout", lambda: measure_fanout(run)),
            ("hostile", lambda: measure_hostile(run)),
        ):
            timeline = Timeline(run.meter())
            try:
                result[name], more = measure()
            finally:
                raw[f"{name}_timeline"] = timeline.stop()
            raw.update(more)
            print(f"[{layout}] {name}: {json.dumps(result[name])}", flush=True)
            time.sleep(5)  # the servers forget the closed connections
    finally:
        for server in servers:
            stop(server)
        db.drop()
        if env["REDIS_URL"]:
            forget_redis_keys(env["REDIS_URL"], env["DOABLE_REDIS_PREFIX"])
    return result, raw


# --------------------------------------------------------------------------------------


def tables(results: list[dict[str, Any]]) -> str:
    lines = [
        "| layout | sockets held (of N) | refused/failed | dropped | open time | server "
        "KiB/socket | REST p50 | REST p99 | REST max | REST errors | CPU server/sockets/REST"
        " (% of a core) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        h, cpu = r["hold"], r["hold"]["cpu_holding"]
        lines.append(
            f"| {r['layout']} | {h['opened']:,} ({h['target']:,}) | {sum(h['failed'].values())}"
            f" | {h['dropped_during_hold']} | {h['open_seconds']} s | "
            f"{h['server_kib_per_socket']} | {h['rest'].get('p50_ms')} ms | "
            f"{h['rest'].get('p99_ms')} ms | {h['rest'].get('max_ms')} ms | "
            f"{h['rest']['errors']} | {cpu['server_cpu_pct']}/"
            f"{cpu['socket_clients_cpu_pct']}/{cpu['rest_client_cpu_pct']} |"
        )
    lines += [
        "",
        "| layout | recipients | changes | deliveries (missing) | event p50 | event p99 | "
        "event max | last p50 | last p99 | last max | PATCH p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        f = r["fanout"]
        lines.append(
            f"| {r['layout']} | {f['recipients']} | {f['changes']} | {f['deliveries']} "
            f"({f['missing']}) | {f['event_p50_ms']} ms | {f['event_p99_ms']} ms | "
            f"{f['event_max_ms']} ms | {f['last_p50_ms']} ms | {f['last_p99_ms']} ms | "
            f"{f['last_max_ms']} ms | {f['patch_p50_ms']} ms |"
        )
    lines += [
        "",
        "| layout | idle closed | closed after (min/p50/max) | slow closed | closed after "
        "(min/p50/max) | REST p50 | REST p99 | REST max | REST errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        h = r["hostile"]
        i, s = h["idle_closed_after"], h["slow_closed_after"]
        lines.append(
            f"| {r['layout']} | {h['idle_closed']}/{h['idle_opened']} | "
            f"{i.get('min_s')}/{i.get('p50_s')}/{i.get('max_s')} s | "
            f"{h['slow_closed']}/{h['slow_opened']} | "
            f"{s.get('min_s')}/{s.get('p50_s')}/{s.get('max_s')} s | "
            f"{h['rest'].get('p50_ms')} ms | {h['rest'].get('p99_ms')} ms | "
            f"{h['rest'].get('max_ms')} ms | {h['rest']['errors']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layouts", default="embedded,production")
    parser.add_argument("--hold-embedded", type=int, default=2000, help="sockets held (a)")
    parser.add_argument("--hold-production", type=int, default=10_000, help="sockets held (a)")
    parser.add_argument("--hold-seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=100, help="users holding the sockets of (a)")
    parser.add_argument("--recipients", type=int, default=1000, help="users, one socket each (b)")
    parser.add_argument("--updates", type=int, default=20, help="changes made in (b)")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between changes (b)")
    parser.add_argument("--idle", type=int, default=500, help="idle Engine.IO sockets (c)")
    parser.add_argument("--slow", type=int, default=200, help="slow-header connections (c)")
    parser.add_argument("--slow-interval", type=float, default=2.0)
    parser.add_argument("--hostile-seconds", type=float, default=30)
    parser.add_argument("--rest-rate", type=float, default=50, help="REST requests a second")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=200, help="handshakes in flight")
    add_service_options(parser)
    args = parser.parse_args()
    if args.users > args.recipients:
        parser.error("--users must not exceed --recipients")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = HERE / "out" / f"sockets-{stamp}"
    out.mkdir(parents=True)
    clients = Clients(args.client_processes)
    results = []
    try:
        for layout in args.layouts.split(","):
            hold = args.hold_production if layout == "production" else args.hold_embedded
            result, raw = bench_layout(layout, hold, clients, args, out)
            results.append(result)
            (out / f"raw-{layout}.json").write_text(json.dumps(raw))
            (out / "results.json").write_text(json.dumps(results, indent=2))
    finally:
        clients.quit()
    text = tables(results)
    (out / "results.md").write_text(text + "\n")
    print(text)
    print(f"\nraw: {out}")


if __name__ == "__main__":
    main()
