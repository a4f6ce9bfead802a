"""One webhook request, made safely: to a public address only, never redirected,
within a time limit, reading a bounded part of the answer (docs/api.md, Delivery).

The host is resolved here, once, and every address it resolves to is checked
(``addresses.refusal``): a name with one inside address among its answers is refused.
The connection is then made to the checked address itself (``Pinned``, httpcore's
network layer under httpx, which offers no hook at the connect step), so no second
resolution can point it elsewhere; the URL is left as given, so the ``Host`` header,
TLS SNI and certificate checks are the name's.

``Pinned`` also holds the attempt to its deadline: connecting and each read or write
wait at most the timeout, and never past the deadline, so a receiver dripping its
answer a byte at a time is cut off too."""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from doable.webhooks.addresses import refusal

#: How much of a receiver's answer is read and kept: bytes of its body, its first
#: headers, bytes of each; and the characters of an error kept (the column's size).
MAX_BODY = 4096
MAX_HEADERS, MAX_HEADER = 50, 1000
MAX_ERROR = 500
USER_AGENT = "Doable-Webhooks/1"
REDIRECT = "redirects are not followed"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What came of one request: an answer (``status``, ``headers``, the first
    ``MAX_BODY`` bytes of ``body`` as text) or an ``error`` without one; ``final`` when
    the error cannot change by trying again (an address refused as written in the URL)."""

    duration_ms: int
    status: int | None = None
    headers: dict[str, str] | None = None
    body: str | None = None
    error: str | None = None
    final: bool = False


class Refused(Exception):
    """The URL may not be sent to; ``final`` when no retry can change that."""

    def __init__(self, reason: str, *, final: bool) -> None:
        super().__init__(reason)
        self.final = final


def send(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> Outcome:
    """POST ``body`` to ``url`` with ``headers``; the whole attempt takes at most
    twice ``timeout`` (a connection, then an answer)."""
    started = time.monotonic()
    try:
        status, answer, text = _post(url, body, headers, timeout, started + 2 * timeout)
    except Refused as refused:
        return _failed(started, str(refused), final=refused.final)
    except httpcore.TimeoutException:
        return _failed(started, f"timed out after {timeout:g} s")
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
        return _failed(started, str(error) or type(error).__name__)
    except (OSError, UnicodeError) as error:  # a name that did not resolve or encode
        return _failed(started, str(error) or type(error).__name__)
    redirected = REDIRECT if 300 <= status < 400 else None
    return Outcome(
        duration_ms=_since(started), status=status, headers=answer, body=text, error=redirected
    )


def _failed(started: float, error: str, *, final: bool = False) -> Outcome:
    return Outcome(duration_ms=_since(started), error=error[:MAX_ERROR], final=final)


def _post(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float, deadline: float
) -> tuple[int, dict[str, str], str]:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as invalid:
        raise Refused(f"refused: {invalid}", final=True) from None
    if parsed.scheme not in ("http", "https"):
        raise Refused(f"refused: {parsed.scheme!r} is not http or https", final=True)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = checked_addresses(parsed.raw_host.decode("ascii"), port)
    limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    with (
        httpcore.ConnectionPool(
            ssl_context=_tls(), network_backend=Pinned(addresses, deadline), retries=0
        ) as pool,
        pool.stream(
            "POST", url, headers=list(headers.items()), content=body, extensions={"timeout": limits}
        ) as response,
    ):
        head = bytearray()
        for chunk in response.iter_stream():
            head += chunk
            if len(head) >= MAX_BODY:
                break  # closing the response drops the connection, and the rest
        answer = {
            _text(name, "latin-1"): _text(value[:MAX_HEADER], "latin-1")
            for name, value in response.headers[:MAX_HEADERS]
        }
        return response.status, answer, _text(head[:MAX_BODY], "utf-8")


def _text(data: bytes | bytearray, encoding: str) -> str:
    """Bytes of an answer as text a database stores: PostgreSQL's text holds no NUL."""
    return data.decode(encoding, errors="replace").replace("\x00", "\ufffd")


def checked_addresses(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, if none of them is refused."""
    literal = _literal(host)
    if literal is not None:
        reason = refusal(literal)
        if reason:
            raise Refused(f"refused: {reason}", final=True)
        return [str(literal)]
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    for address in addresses:
        reason = refusal(ipaddress.ip_address(address.split("%")[0]))
        if reason:
            raise Refused(f"refused: {host} resolves to {address}; {reason}", final=False)
    return addresses


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


@functools.cache
def _tls() -> ssl.SSLContext:
    """The certificates receivers are checked against (httpx's: certifi's, or
    ``SSL_CERT_FILE``)."""
    return httpx.create_ssl_context()


class Pinned(httpcore.NetworkBackend):
    """Connects to the checked ``addresses`` (in turn, until one answers), whatever
    host it is asked for, and keeps every wait within ``deadline``."""

    def __init__(self, addresses: list[str], deadline: float) -> None:
        self.addresses = addresses
        self.deadline = deadline
        self.backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        for address in self.addresses[:-1]:
            try:
                return self._connect(address, port, timeout, socket_options)
            except httpcore.ConnectError:
                continue
        return self._connect(self.addresses[-1], port, timeout, socket_options)

    def _connect(
        self, address: str, port: int, timeout: float | None, options: Iterable[Any] | None
    ) -> httpcore.NetworkStream:
        wait = _within(timeout, self.deadline, httpcore.ConnectTimeout)
        stream = self.backend.connect_tcp(address, port, timeout=wait, socket_options=options)
        return Bounded(stream, self.deadline)


class Bounded(httpcore.NetworkStream):
    """A stream whose reads and writes never wait past ``deadline``."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self.stream = stream
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _within(timeout, self.deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _within(timeout, self.deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = _within(timeout, self.deadline, httpcore.ConnectTimeout)
        return Bounded(self.stream.start_tls(ssl_context, server_hostname, wait), self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


def _within(timeout: float | None, deadline: float, expired: type[Exception]) -> float:
    """``timeout``, shortened to what is left before ``deadline`` (raise ``expired``
    when nothing is)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the attempt's time is up")
    return left if timeout is None else min(timeout, left)
