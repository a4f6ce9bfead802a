"""Sending the email fires (``Fire`` rows of channel ``email``, ``pending``), by SMTP.

A claim is its own committed transaction, made before any message goes: it counts the
attempt and holds the fire for a lease (``lease_until``). A worker killed after its
claim and before its message went leaves the fire pending: once the lease has run out,
another worker claims and sends it. The lease is renewed before each message of a
batch (``renew_lease``), so a slow server does not outlive it; a message whose lease
lapsed is left to whichever worker took it. So no email is lost; one killed after the server
took the message but before it recorded that sends it again, with the same
``Message-ID`` (``<fire-<id>@<domain>>``), which mail clients and servers recognise as
one message. A failure is tried again after a growing pause, ``MAX_ATTEMPTS`` in all,
then the fire is ``failed``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from flask import Flask
from sqlalchemy import or_, select

from doable.auth.models import User
from doable.db import lock_database, utcnow
from doable.extensions import db
from doable.reminders.models import Fire
from doable.settings import Settings, settings
from doable.unit_of_work import use_case

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
#: Seconds before the second attempt, doubling after each failure.
FIRST_RETRY = 30.0


@dataclass(frozen=True)
class Outgoing:
    """One claimed email, all its sender needs."""

    fire_id: int
    number: int
    to: str
    subject: str
    body: str


#: Seconds a lease must still have for its worker to send under it (workers' clocks
#: differ a little): one with less has lapsed, and another worker may hold its fire.
LEASE_MARGIN = 5.0


def lease_seconds(config: Settings) -> float:
    """How long a claim holds its fire: connecting, greeting, securing and sending
    may each take up to the timeout."""
    return 3 * config.smtp_timeout + 5.0


def lease_seconds_for(app: Flask) -> float:
    return lease_seconds(settings(app))


def send_emails(*, limit: int) -> int:
    """Claim up to ``limit`` pending emails, send them over one SMTP connection, and
    record what came of each; how many were tried (0 without SMTP settings)."""
    if not settings().smtp_host:
        return 0
    claimed = claim_emails(limit=limit)
    if claimed:
        outcomes = _send_all(claimed)
        try:
            record_emails(outcomes=outcomes)
        except Exception:  # sent, but unrecorded they would go again after the lease
            log.exception("emails sent but not recorded; recording them once more")
            record_emails(outcomes=outcomes)
    return len(claimed)


@use_case
def claim_emails(*, limit: int) -> list[Outgoing]:
    """Hold up to ``limit`` pending emails whose lease (or pause) has run out, oldest
    first, counting an attempt of each (committed before any is sent)."""
    now = utcnow()
    config = settings()
    lock_database(db.session)
    due = (
        select(Fire, User.email)
        .join(User, User.id == Fire.user_id)
        .where(
            Fire.channel == "email",
            Fire.status == "pending",
            or_(Fire.lease_until.is_(None), Fire.lease_until <= now),
        )
        .order_by(Fire.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Fire)
    )
    claimed = []
    for fire, email in db.session.execute(due).all():
        if fire.attempts >= MAX_ATTEMPTS:  # its last attempt's worker died
            fire.status, fire.lease_until = "failed", None
            continue
        fire.attempts += 1
        fire.lease_until = now + timedelta(seconds=lease_seconds(config))
        claimed.append(Outgoing(fire.id, fire.attempts, email, fire.subject, fire.body))
    return claimed


@use_case
def renew_lease(*, claim: Outgoing) -> bool:
    """Whether ``claim`` still holds its fire, ``LEASE_MARGIN`` to spare; if so, held
    for a lease more from now, the time one message may take. A batch is sent one
    message after another: without this, a slow server outlives the claim's lease and
    another worker sends the rest again."""
    now = utcnow()
    lock_database(db.session)
    held = select(Fire).where(Fire.id == claim.fire_id).with_for_update()
    fire = db.session.scalars(held).one_or_none()
    if (
        fire is None
        or fire.status != "pending"
        or fire.attempts != claim.number
        or fire.lease_until is None
        or fire.lease_until < now + timedelta(seconds=LEASE_MARGIN)
    ):
        return False
    fire.lease_until = now + timedelta(seconds=lease_seconds(settings()))
    return True


def _still_held(claim: Outgoing) -> bool:
    """``renew_lease``; False when it cannot tell (the database away): not sent."""
    try:
        return renew_lease(claim=claim)
    except Exception:  # the messages already sent must still be recorded
        log.warning("email fire %s: lease not renewed", claim.fire_id, exc_info=True)
        return False


@use_case
def record_emails(*, outcomes: list[tuple[Outgoing, str | None]]) -> None:
    """Write each claim's outcome (``None``: sent, else the error), if the fire is
    still that claim's (not taken over after its lease)."""
    now = utcnow()
    lock_database(db.session)
    ids = sorted(claim.fire_id for claim, _ in outcomes)
    locked = select(Fire).where(Fire.id.in_(ids)).order_by(Fire.id).with_for_update()
    fires = {fire.id: fire for fire in db.session.scalars(locked)}
    for claim, error in outcomes:
        fire = fires.get(claim.fire_id)
        if fire is None or fire.status != "pending" or fire.attempts != claim.number:
            continue
        fire.error = error
        if error is None:
            fire.status, fire.sent_at, fire.lease_until = "sent", now, None
        elif fire.attempts >= MAX_ATTEMPTS:
            fire.status, fire.lease_until = "failed", None
        else:
            pause = FIRST_RETRY * 2 ** (fire.attempts - 1)
            fire.lease_until = now + timedelta(seconds=pause)


def message(claim: Outgoing, config: Settings) -> EmailMessage:
    """The email of ``claim``: the same ``Message-ID`` however often it is sent."""
    mail = EmailMessage()
    mail["From"] = config.mail_from
    mail["To"] = claim.to
    mail["Subject"] = claim.subject
    mail["Date"] = format_datetime(utcnow())
    domain = parseaddr(config.mail_from)[1].rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<fire-{claim.fire_id}@{domain}>"
    mail.set_content(claim.body)
    return mail


def _send_all(claimed: list[Outgoing]) -> list[tuple[Outgoing, str | None]]:
    """Each claim with its outcome: None (the server took it) or the error."""
    config = settings()
    outcomes: dict[int, str | None] = {}
    lapsed: set[int] = set()  # not this worker's any more: nothing to record
    try:
        with _connection(config) as smtp:
            for claim in claimed:
                if _still_held(claim):
                    outcomes[claim.fire_id] = _send(smtp, claim, config)
                else:
                    lapsed.add(claim.fire_id)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("SMTP server %s unavailable: %r", config.smtp_host, error)
        reason = f"SMTP server unavailable: {error!r}"[:500]
        outcomes = {claim.fire_id: outcomes.get(claim.fire_id, reason) for claim in claimed}
    return [(claim, outcomes[claim.fire_id]) for claim in claimed if claim.fire_id not in lapsed]


def _send(smtp: smtplib.SMTP, claim: Outgoing, config: Settings) -> str | None:
    """None (sent) or why this message was not. A message that cannot be written or
    sent is its own failure, never the batch's: the others' outcomes must be recorded,
    or they would be sent again after their lease. A lost connection is the batch's."""
    try:
        smtp.send_message(message(claim, config))
    except smtplib.SMTPException as error:
        return f"refused: {error!r}"[:500]
    except OSError:
        raise
    except Exception as error:  # any fault here is this message's alone
        log.warning("email fire %s not sent", claim.fire_id, exc_info=True)
        return f"not sent: {error!r}"[:500]
    return None


@contextmanager
def _connection(config: Settings) -> Iterator[smtplib.SMTP]:
    """An SMTP connection as the settings say (STARTTLS, TLS or plain), logged in."""
    smtp: smtplib.SMTP
    if config.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(
            config.smtp_host,
            config.smtp_port,
            timeout=config.smtp_timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout)
    with smtp:
        if config.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if config.smtp_username:
            smtp.login(config.smtp_username, config.smtp_password)
        yield smtp
