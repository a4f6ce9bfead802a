"""A real SMTP server on 127.0.0.1 (``aiosmtpd``) that keeps every message it is given;
the ``smtp`` fixture (tests/conftest.py) gives a running one per test, and ``SMTP``
settings point an app at it."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.servers import free_port, wait_for

WAIT = 15.0


@dataclass(frozen=True)
class Mail:
    """One message as the server received it."""

    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


class Mailbox:
    """The server's handler: what it received, in order."""

    def __init__(self, delay: float = 0.0) -> None:
        self.mails: list[Mail] = []
        self.delay = delay
        self._lock = threading.Lock()

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
    ) -> str:
        await asyncio.sleep(self.delay)  # a slow server takes this long over each message
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.mails.append(Mail(list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A running server; ``settings`` are the app config keys that send to it. ``delay``:
    seconds it takes over each message before it answers."""

    def __init__(self, delay: float = 0.0) -> None:
        self.mailbox = Mailbox(delay)
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": self.port,
            "SMTP_SECURITY": "none",
            "MAIL_FROM": "Doable <doable@example.test>",
        }

    @property
    def mails(self) -> list[Mail]:
        return list(self.mailbox.mails)

    def wait_for(self, count: int, limit: float = WAIT) -> list[Mail]:
        """The first ``count`` messages, once that many have come."""
        wait_for(lambda: len(self.mailbox.mails) >= count, f"{count} emails", limit)
        return self.mails[:count]

    def stop(self) -> None:
        self.controller.stop()
