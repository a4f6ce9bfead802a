"""What rate limits count a client by, and what their answers say. Flask-Limiter does
the counting (``doable.extensions.limiter``); the API's per-user budget is
``doable.api.auth.api_limit``."""

from __future__ import annotations

import ipaddress

from flask import Response
from flask_limiter.util import get_remote_address


def client_address_key() -> str:
    """Rate-limit key of the client's address (behind ``DOABLE_PROXY_HOPS`` proxies, the
    one they forwarded): an IPv6 address stands for its /64, which one subscriber or
    host usually holds whole, so hopping between its addresses earns no fresh bucket."""
    address = get_remote_address()
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # without an IPv6 zone
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def drop_idle_retry_after(response: Response) -> Response:
    """Flask-Limiter adds Retry-After to every limited response; it only means
    something on a refusal."""
    if response.status_code not in (429, 503):
        response.headers.remove("Retry-After")  # pop() would raise and catch when absent
    return response
