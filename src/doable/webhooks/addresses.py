"""Which addresses a webhook may be sent to: public ones only, unless the operator
allows a network (``DOABLE_WEBHOOK_ALLOWED_NETWORKS``). Checked when a URL is given
(a literal address) and again on every attempt, on each address its name resolves to
(``webhooks.outbound``), so a name pointing inside, or re-pointed later, is refused."""

from __future__ import annotations

import ipaddress

from doable.settings import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal(address: Address) -> str | None:
    """Why ``address`` may not be sent to (``"127.0.0.1 is a loopback address"``), or
    None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside (::ffff:a.b.c.d, 6to4's 2002:aabb:ccdd::) is judged
        # as itself: Python counts 6to4 as global whatever it carries.
        address = address.ipv4_mapped or address.sixtofour or address
    for network in settings().webhook_allowed_networks:
        if address in ipaddress.ip_network(network):
            return None
    kinds = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved or address.is_unspecified),
        ("non-public", not address.is_global),
    )
    for kind, matches in kinds:
        if matches:
            return f"{address} is a {kind} address"
    return None
