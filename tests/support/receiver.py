"""A real webhook receiver: a threaded ``http.server`` on 127.0.0.1 that records every
request it gets and answers each with the next answer the test queued (200 when none
is left). The ``receiver`` fixture (tests/conftest.py) gives a running one per test.

    receiver.answer(Answer(500), Answer(500), Answer(200))
    ...
    first, *_ = receiver.wait_for(3)
    assert first.headers["webhook-id"] == ...
"""

from __future__ import annotations

import collections
import contextlib
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The longest a test waits for requests to arrive.
WAIT = 15.0


@dataclass(frozen=True)
class Answer:
    """What the receiver answers one request with; ``hang``: never answer (until the
    receiver is closed), as a receiver that has stopped responding."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang: bool = False


@dataclass(frozen=True)
class Received:
    """One request as it arrived; ``headers`` keyed by lower-case name."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A running receiver; ``url`` is where to send (path ``/hook``); over HTTPS when
    given a server-side ``tls`` context."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self._answers: collections.deque[Answer] = collections.deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        if tls is not None:  # HTTPS, with the certificate and key ``tls`` holds
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, *answers: Answer) -> None:
        """Queue ``answers`` for the next requests, in order."""
        with self._lock:
            self._answers.extend(answers)

    def wait_for(self, count: int, limit: float = WAIT) -> list[Received]:
        """The requests received, once there are at least ``count`` of them."""
        deadline = time.monotonic() + limit
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} requests expected, {len(self.requests)} came")
            time.sleep(0.01)
        return list(self.requests)

    def close(self) -> None:
        self._closing.set()  # hanging answers end
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(WAIT)

    def _take(self, received: Received) -> Answer:
        with self._lock:
            self.requests.append(received)
            return self._answers.popleft() if self._answers else Answer()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    #: Connections waiting to be accepted: http.server's 5 drops a busy worker's.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender hanging up early is what some tests do


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received = Received(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length),
            )
            answer = receiver._take(received)
            if answer.hang:
                receiver._closing.wait()
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender read enough and hung up
                self.wfile.write(answer.body)

        do_GET = do_PUT = do_DELETE = do_POST  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads ``requests``

    return Handler
