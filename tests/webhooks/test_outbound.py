"""One webhook request (docs/api.md, Delivery): only to addresses the rule allows,
checked after resolution and pinned, within its time, reading 4 KB of the answer."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import pytest
from flask import Flask

from doable.webhooks import outbound
from doable.webhooks.delivery import send_due
from tests.support.factories import Account
from tests.support.receiver import Answer, Receiver
from tests.support.webhooks import FAST, attempts, new_webhook, queue_delivery, stored

HEADERS = {"Content-Type": "application/json"}


def send(app: Flask, url: str, timeout: float = 2.0) -> outbound.Outcome:
    with app.app_context():
        return outbound.send(url, b"{}", HEADERS, timeout=timeout)


@pytest.mark.parametrize(
    ("url", "refused", "final"),
    [
        ("http://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address", True),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local", True),
        ("http://[::1]:{port}/hook", "::1 is a loopback address", True),
        ("http://[::ffff:127.0.0.1]:{port}/hook", "127.0.0.1 is a loopback address", True),
        ("http://10.1.2.3:{port}/hook", "10.1.2.3 is a private address", True),
        # 6to4 carrying the metadata address; a deprecated site-local one
        ("http://[2002:a9fe:a9fe::]/", "169.254.169.254 is a link-local", True),
        ("http://[fec0::1]/", "fec0::1 is a site-local address", True),
        (
            "http://localhost:{port}/hook",
            "localhost resolves to 127.0.0.1; 127.0.0.1 is a loopback",
            False,
        ),
    ],
)
def test_an_inside_address_is_refused_before_anything_is_sent(
    app: Flask, receiver: Receiver, url: str, refused: str, final: bool
) -> None:
    outcome = send(app, url.format(port=receiver.port))

    assert outcome.status is None
    assert outcome.error is not None
    assert outcome.error.startswith(f"refused: {refused}")
    assert outcome.final is final
    assert receiver.requests == []


def test_a_scheme_other_than_http_is_refused_for_good(app: Flask) -> None:
    outcome = send(app, "file:///etc/passwd")

    assert (outcome.error, outcome.final) == ("refused: 'file' is not http or https", True)


def test_a_refused_literal_address_fails_the_delivery_at_once(
    app: Flask, alice: Account, receiver: Receiver
) -> None:
    webhook_id = new_webhook(app, alice.id, receiver.url)[0]
    delivery_id = queue_delivery(app, webhook_id)

    with app.app_context():
        assert send_due(limit=10) == 1

    [attempt] = attempts(app, delivery_id)
    assert attempt["outcome"] == "failed"
    assert stored(app, delivery_id)["status"] == "failed"
    assert attempt["error"] == "refused: 127.0.0.1 is a loopback address"
    assert receiver.requests == []


def test_a_name_resolving_inside_is_refused_and_tried_again_later(
    app: Flask, alice: Account, receiver: Receiver
) -> None:
    """DNS may change; the name is checked again at each attempt."""
    webhook_id = new_webhook(app, alice.id, f"http://localhost:{receiver.port}/hook")[0]
    delivery_id = queue_delivery(app, webhook_id)

    with app.app_context():
        assert send_due(limit=10) == 1

    [attempt] = attempts(app, delivery_id)
    assert attempt["outcome"] == "retrying"
    assert stored(app, delivery_id)["status"] == "pending"
    assert receiver.requests == []


def test_an_allowed_network_is_sent_to_with_the_names_host_header(
    make_app: Any, receiver: Receiver
) -> None:
    app = make_app(**FAST)

    outcome = send(app, f"http://localhost:{receiver.port}/hook?x=1")

    assert (outcome.status, outcome.error) == (200, None)
    [request] = receiver.wait_for(1)
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.path == "/hook?x=1"


def test_a_closed_port_is_a_network_error_tried_again(make_app: Any) -> None:
    app = make_app(**FAST)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]

        outcome = send(app, f"http://127.0.0.1:{port}/")

    assert outcome.status is None
    assert outcome.error
    assert outcome.final is False


def test_a_name_that_does_not_resolve_is_a_network_error_tried_again(app: Flask) -> None:
    outcome = send(app, "http://doable-test.invalid/hook")

    assert outcome.status is None
    assert outcome.error
    assert outcome.final is False


def test_the_connection_goes_to_the_checked_address_never_resolving_again(
    receiver: Receiver,
) -> None:
    """A name nobody can resolve reaches the receiver: the pinned address is used."""
    backend = outbound.Pinned(["127.0.0.1"], time.monotonic() + 5)
    with httpcore.ConnectionPool(network_backend=backend) as pool:
        response = pool.request("POST", f"http://hooks.doable.invalid:{receiver.port}/hook")

    assert response.status == 200
    assert receiver.wait_for(1)[0].headers["host"] == f"hooks.doable.invalid:{receiver.port}"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway certificate for hooks.doable.test, and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=hooks.doable.test", "-addext", "subjectAltName=DNS:hooks.doable.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_tls_to_a_pinned_address_names_and_verifies_the_host(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_side.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment,misc,return-value]
    receiver = Receiver(tls=server_side)
    trusted = ssl.create_default_context(cafile=str(cert))
    backend = outbound.Pinned(["127.0.0.1"], time.monotonic() + 5)
    try:
        with httpcore.ConnectionPool(ssl_context=trusted, network_backend=backend) as pool:
            response = pool.request("POST", f"https://hooks.doable.test:{receiver.port}/hook")
    finally:
        receiver.close()

    assert response.status == 200
    assert names == ["hooks.doable.test"]


@pytest.fixture
def dripping() -> Iterator[int]:
    """A server that answers one byte of a status line every 50 ms, forever; its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
                if stop.wait(0.05):
                    return
                connection.sendall(bytes([byte]))

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(5)


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_attempts_limit(
    make_app: Any, dripping: int
) -> None:
    app = make_app(**FAST)

    outcome = send(app, f"http://127.0.0.1:{dripping}/", timeout=0.3)

    assert outcome.error == "timed out after 0.3 s"
    assert 550 <= outcome.duration_ms < 1500  # twice the timeout, though each read was quick


def test_only_the_first_4_kb_of_a_large_answer_are_read(make_app: Any, receiver: Receiver) -> None:
    app = make_app(**FAST)
    receiver.answer(Answer(500, body=b"y" * 50_000_000))

    outcome = send(app, receiver.url)

    assert outcome.status == 500
    assert outcome.body == "y" * 4096
    assert outcome.duration_ms < 1000


def test_an_answers_headers_are_kept_to_a_bounded_size(make_app: Any, receiver: Receiver) -> None:
    app = make_app(**FAST)
    many = {"X-Long": "w" * 5000} | {f"X-Header-{n:02}": "v" * 500 for n in range(80)}
    receiver.answer(Answer(200, headers=many))

    outcome = send(app, receiver.url)

    assert outcome.headers is not None
    assert len(outcome.headers) == outbound.MAX_HEADERS
    assert outcome.headers["X-Long"] == "w" * outbound.MAX_HEADER
