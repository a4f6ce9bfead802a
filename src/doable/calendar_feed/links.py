"""The feed's absolute URLs: its own (to subscribe to), and each task's page in it.

They start with ``DOABLE_PUBLIC_URL`` when it is set (the address people reach this
server at, whatever host a request came in by), else with the request's own scheme and
host (behind ``DOABLE_PROXY_HOPS`` proxies, the ones they forwarded)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request, url_for

from doable.calendar_feed.ical import Links
from doable.settings import settings


def base_url() -> str:
    return settings().public_url.rstrip("/") or request.host_url.rstrip("/")


def feed_url(token: str) -> str:
    return base_url() + url_for("calendar_feed.feed", token=token)


def webcal_url(url: str) -> str:
    """``url`` for the ``webcal:`` scheme, which makes a browser hand it to the
    calendar app to subscribe to (over HTTPS when the URL is)."""
    return "webcal:" + url.split(":", 1)[1]


def feed_links() -> Links:
    base = base_url()
    return Links(
        base=base,
        host=urlsplit(base).hostname or "localhost",
        task_url=lambda task_id: base + url_for("web.tasks.detail", task_id=task_id),
    )
