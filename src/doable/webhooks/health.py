"""What an attempt's answer means: for its delivery (succeeded, tried again later, or
failed), and for its webhook, which is disabled when its receiver is gone (410) or has
failed for ``webhook_disable_after`` seconds without a success (docs/api.md, Delivery).

Tried again: no answer (a network error, a timeout, a name that now resolves to a
refused address: DNS may change back), 408, 429 and 5xx, after
``webhook_retry_schedule[n - 1]`` seconds following attempt ``n`` (or longer, when the
answer's ``Retry-After`` asks, up to a day), until the schedule runs out. Failed at
once: any other answer (3xx: redirects are not followed; 4xx), and an address refused
as written in the URL, which no retry can change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from doable.changes.log import Recorded, record
from doable.settings import settings
from doable.webhooks.models import FAILED, PENDING, SUCCEEDED, Webhook
from doable.webhooks.outbound import Outcome

#: An attempt's ``outcome`` besides ``SUCCEEDED`` and ``FAILED`` (models.ATTEMPT_OUTCOMES).
SENDING, RETRYING, INTERRUPTED = "sending", "retrying", "interrupted"
#: The longest ``Retry-After`` honoured, in seconds.
MAX_RETRY_AFTER = 86400.0
GONE = "the receiver answered 410 Gone"
_RETRIED = frozenset({408, 429})


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """An attempt's ``outcome``, its delivery's ``status`` and ``next_attempt_at``
    after it, and why the webhook is to be disabled (``disable``), if it is."""

    outcome: str
    status: str
    next_attempt_at: datetime | None = None
    disable: str | None = None


def judge(sent: Outcome, *, number: int, now: datetime) -> Verdict:
    """What attempt ``number`` of a delivery, which ended with ``sent``, means."""
    status = sent.status
    if status is not None and 200 <= status < 300:
        return Verdict(outcome=SUCCEEDED, status=SUCCEEDED)
    if status == 410:
        return Verdict(outcome=FAILED, status=FAILED, disable=GONE)
    schedule = settings().webhook_retry_schedule
    retried = status in _RETRIED or (status or 0) >= 500 or (status is None and not sent.final)
    if not retried or number > len(schedule):
        return Verdict(outcome=FAILED, status=FAILED)
    wait = max(schedule[number - 1], retry_after(sent, now) or 0.0)
    return Verdict(outcome=RETRYING, status=PENDING, next_attempt_at=now + timedelta(seconds=wait))


def retry_after(sent: Outcome, now: datetime) -> float | None:
    """The seconds an answer's ``Retry-After`` asks for (seconds or an HTTP date), at
    most ``MAX_RETRY_AFTER``; None without a valid one."""
    value = next(
        (value for name, value in (sent.headers or {}).items() if name.lower() == "retry-after"),
        "",
    ).strip()
    if value.isascii() and value.isdigit():  # not '²', which float() refuses
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None  # HTTP dates are GMT; one without a zone is not one
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER)


def note_outcome(webhook: Webhook, verdict: Verdict, *, now: datetime) -> None:
    """Keep ``webhook``'s health after an attempt: a success clears ``failing_since``;
    a failure starts it, and disables the webhook once it is old enough."""
    if verdict.outcome == SUCCEEDED:
        webhook.failing_since = None
        return
    if webhook.failing_since is None:
        webhook.failing_since = now
    reason = verdict.disable
    limit = settings().webhook_disable_after
    if reason is None and (now - webhook.failing_since).total_seconds() >= limit:
        reason = f"its deliveries failed for {_span(limit)} without a success"
    if reason is not None and webhook.active:
        disable(webhook, reason)


def disable(webhook: Webhook, reason: str) -> None:
    """Turn ``webhook`` off, and tell its owner: a ``webhook_disabled`` change in their
    feed (their open pages and their other webhooks hear of it)."""
    before = webhook.disabled_reason
    webhook.active = False
    webhook.disabled_reason = reason
    record(
        Recorded(
            entity="webhook",
            entity_id=webhook.id,
            action="webhook_disabled",
            changes={"active": [True, False], "disabled_reason": [before, reason]},
            actor_id=None,
            audience={webhook.user_id: None},
        )
    )


def _span(seconds: float) -> str:
    """``86400`` as "a day", ``7200`` as "2 hours", ``90`` as "90 seconds"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            if count == 1:
                return "an hour" if unit == "hour" else f"a {unit}"
            return f"{count} {unit}s"
    return f"{seconds:g} seconds"
