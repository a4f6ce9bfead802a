"""Sending due deliveries: claim them, send each, record what came of it (docs/api.md,
Delivery). The worker (``doable.worker``) calls ``send_due`` and sleeps until
``next_due_in``; both need an app context.

A claim is its own committed transaction, made before any request is sent: it holds
each delivery for a lease (``claimed_until``), counts the attempt, and inserts the
attempt's row (``sending``) with the exact headers it will send. So every request sent
has its row, and a worker killed mid-attempt leaves a row that the next claim, after
the lease, marks ``interrupted`` before it makes a new one. On PostgreSQL the claim
skips rows another worker is claiming (``FOR UPDATE SKIP LOCKED``); SQLite has one
writer at a time (``lock_database``).

A round's outcomes are written in a second transaction, each only if the delivery is still the
claimer's (``attempts`` is still its attempt's number): a worker slower than its lease
never overwrites the attempt that took over from it.

Deliveries of one task go out in feed order: one is due only when no earlier (smaller
id) delivery of the same webhook and task is pending, so a retrying one holds back the
later ones of its task, and of that task only. Pings, and events without a task, are
not ordered."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, case, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from doable.db import lock_database, utcnow
from doable.extensions import db
from doable.settings import settings
from doable.unit_of_work import use_case
from doable.webhooks import outbound
from doable.webhooks.health import INTERRUPTED, SENDING, Verdict, judge, note_outcome
from doable.webhooks.models import PENDING, Webhook, WebhookAttempt, WebhookDelivery
from doable.webhooks.signing import signed_headers

log = logging.getLogger(__name__)

#: Seconds a claim outlasts its attempt's longest time (``outbound.send``: twice the
#: timeout), for resolving the name (the system resolver's default timeout is 5 s) and
#: writing the outcome: one more timeout, and this.
LEASE_MARGIN = 5.0
#: An attempt's error when its answer could not be stored (it is retried as if lost).
UNRECORDED = "the answer could not be stored; retried as if no answer came"


def lease_seconds(timeout: float) -> float:
    """How long a claim holds its delivery: a worker killed mid-attempt delays the next
    attempt by this (35 s at the default 10 s timeout)."""
    return 3 * timeout + LEASE_MARGIN


@dataclass(frozen=True, kw_only=True)
class Claim:
    """One claimed attempt, all its sender needs (no rows: it runs in another thread)."""

    delivery_id: int
    attempt_id: int
    number: int
    webhook_id: int
    url: str
    body: bytes
    headers: dict[str, str]


def send_due(*, limit: int) -> int:
    """Claim up to ``limit`` due deliveries and send them, ``worker_concurrency`` at a
    time, each in a thread (a greenlet under ``doable serve``) with its own app
    context; how many attempts were made."""
    claims = claim_due(limit=limit)
    if claims:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        workers = min(settings().worker_concurrency, len(claims))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook") as pool:
            outcomes = list(pool.map(partial(_send, app), claims))
        _record(list(zip(claims, outcomes, strict=True)))
    return len(claims)


def next_due_in() -> float | None:
    """Seconds until the earliest delivery that may be claimed is due (0: now), or None
    when nothing is pending. A claim whose lease runs out is due when it does. Ends the
    session's transaction (the worker sleeps next)."""
    held = WebhookDelivery.claimed_until
    due_at = case(
        (held > WebhookDelivery.next_attempt_at, held), else_=WebhookDelivery.next_attempt_at
    )
    query = select(func.min(due_at, type_=WebhookDelivery.next_attempt_at.type)).join(Webhook)
    earliest: datetime | None = db.session.scalar(query.where(*_waiting()))
    db.session.rollback()  # a read only: hold no snapshot or connection while asleep
    if earliest is None:
        return None
    return max((earliest - utcnow()).total_seconds(), 0.0)


def _waiting() -> list[ColumnElement[bool]]:
    """Pending deliveries of active webhooks that no earlier one of their task holds."""
    earlier = aliased(WebhookDelivery)
    return [
        WebhookDelivery.status == PENDING,
        Webhook.active.is_(True),
        ~exists().where(
            earlier.webhook_id == WebhookDelivery.webhook_id,
            earlier.task_id == WebhookDelivery.task_id,  # NULL (a ping) equals nothing
            earlier.status == PENDING,
            earlier.id < WebhookDelivery.id,
        ),
    ]


@use_case
def claim_due(*, limit: int) -> list[Claim]:
    """Claim up to ``limit`` due deliveries, oldest due first, and record an attempt of
    each (committed before any of them is sent)."""
    now = utcnow()
    lock_database(db.session)
    due = (
        select(WebhookDelivery, Webhook)
        .join(Webhook)
        .where(
            *_waiting(),
            WebhookDelivery.next_attempt_at <= now,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until <= now),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    rows = db.session.execute(due).all()
    if not rows:
        return []
    db.session.execute(
        update(WebhookAttempt)
        .where(
            WebhookAttempt.delivery_id.in_([delivery.id for delivery, _ in rows]),
            WebhookAttempt.outcome == SENDING,
        )
        .values(outcome=INTERRUPTED)  # their workers died: their leases ran out
    )
    return [_claim(delivery, webhook, now) for delivery, webhook in rows]


def _claim(delivery: WebhookDelivery, webhook: Webhook, now: datetime) -> Claim:
    timeout = settings().webhook_timeout
    delivery.attempts += 1
    delivery.claimed_until = now + timedelta(seconds=lease_seconds(timeout))
    delivery.last_attempt_at = now
    body = delivery.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": outbound.USER_AGENT,
        **signed_headers(
            _signing_secrets(webhook, now), delivery.message_id, int(now.timestamp()), body
        ),
    }
    attempt = WebhookAttempt(
        delivery_id=delivery.id,
        number=delivery.attempts,
        started_at=now,
        outcome=SENDING,
        request_headers=headers,
    )
    db.session.add(attempt)
    db.session.flush()
    return Claim(
        delivery_id=delivery.id,
        attempt_id=attempt.id,
        number=attempt.number,
        webhook_id=webhook.id,
        url=webhook.url,
        body=body,
        headers=headers,
    )


def _signing_secrets(webhook: Webhook, now: datetime) -> list[str]:
    """The secret, and the one it replaced while that still signs (a rotation)."""
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret and expires is not None and expires > now:
        return [webhook.secret, webhook.previous_secret]
    return [webhook.secret]


def _send(app: Flask, claim: Claim) -> outbound.Outcome:
    """Send one claimed attempt (in a sender thread, with its own app context)."""
    with app.app_context():
        try:
            return outbound.send(
                claim.url, claim.body, claim.headers, timeout=settings().webhook_timeout
            )
        except Exception as error:  # a bug: recorded, and retried as a network error is
            log.exception("webhook delivery %s could not be sent", claim.delivery_id)
            return outbound.Outcome(duration_ms=0, error=f"not sent: {error!r}"[:500])


def _record(sent: list[tuple[Claim, outbound.Outcome]]) -> None:
    """Record a round's outcomes in one transaction (one commit, not one per attempt:
    on PostgreSQL each commit waits for the disk). Should that fail, each is recorded
    on its own; and one whose answer cannot be stored (a NUL byte on PostgreSQL) is
    recorded without it, so the schedule still runs its course: left unrecorded, the
    delivery would be sent again after every lease, for ever. An outcome that cannot
    be written at all (the database away) is logged, and the delivery is tried again
    once its lease runs out."""
    try:
        record_outcomes(sent=sent)
        return
    except Exception:
        log.exception("webhook deliveries: a round's outcomes not recorded together")
    for claim, outcome in sent:
        for attempt in (
            outcome,
            outbound.Outcome(duration_ms=outcome.duration_ms, error=UNRECORDED),
        ):
            try:
                record_outcomes(sent=[(claim, attempt)])
                break
            except Exception:
                log.exception(
                    "webhook delivery %s: attempt %s not recorded", claim.delivery_id, claim.number
                )


@use_case
def record_outcomes(*, sent: list[tuple[Claim, outbound.Outcome]]) -> list[Verdict | None]:
    """Write what came of each claim's request, in one transaction: the deliveries and
    their webhooks read and locked in one statement, in order (by webhook, then
    delivery, so two workers recording at once wait for each other rather than
    deadlock), and the attempts updated in one more."""
    lock_database(db.session)  # SQLite; PostgreSQL locks the rows it reads
    ids = sorted({claim.delivery_id for claim, _ in sent})
    locked = (
        select(WebhookDelivery, Webhook)
        .join(Webhook)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(Webhook.id, WebhookDelivery.id)
        .with_for_update(key_share=True)
    )
    rows = {delivery.id: (delivery, webhook) for delivery, webhook in db.session.execute(locked)}
    now = utcnow()
    verdicts: list[Verdict | None] = []
    attempts: list[dict[str, Any]] = []
    for claim, outcome in sent:
        row = rows.get(claim.delivery_id)
        if row is None or row[0].attempts != claim.number:
            verdicts.append(None)  # deleted, or taken over after our lease: the newer rules
            continue
        verdict = judge(outcome, number=claim.number, now=now)
        attempts.append(_attempt_outcome(claim, outcome, verdict))
        _settle(*row, verdict, now=now)
        verdicts.append(verdict)
    if attempts:
        db.session.execute(update(WebhookAttempt), attempts)  # by primary key, in one go
    return verdicts


def record_outcome(*, claim: Claim, sent: outbound.Outcome) -> Verdict | None:
    """Write what came of ``claim``'s request on its attempt, its delivery and its
    webhook; None (nothing written) when the claim is no longer ours."""
    [verdict] = record_outcomes(sent=[(claim, sent)])
    return verdict


def _attempt_outcome(claim: Claim, sent: outbound.Outcome, verdict: Verdict) -> dict[str, Any]:
    return {
        "id": claim.attempt_id,
        "outcome": verdict.outcome,
        "duration_ms": sent.duration_ms,
        "response_status": sent.status,
        "response_headers": sent.headers,
        "response_body": sent.body,
        "error": sent.error,
    }


def _settle(
    delivery: WebhookDelivery, webhook: Webhook, verdict: Verdict, *, now: datetime
) -> None:
    """The delivery's state and its webhook's health after an attempt's ``verdict``."""
    # Sent again (redeliver, ping) while this attempt was out: it stays owed, as asked.
    requeued = (
        delivery.next_attempt_at is not None
        and delivery.last_attempt_at is not None
        and delivery.next_attempt_at > delivery.last_attempt_at
    )
    if not requeued:
        delivery.status = verdict.status
        delivery.next_attempt_at = verdict.next_attempt_at
    delivery.claimed_until = None
    note_outcome(webhook, verdict, now=now)
