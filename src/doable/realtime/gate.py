"""What an Engine.IO connection may hold before and after it says who it is.

Opening an Engine.IO session takes no credentials; the Socket.IO ``CONNECT`` that
follows carries them. The gate keeps, for this process:

- every session still waiting for an accepted ``CONNECT``, closed once
  ``DOABLE_REALTIME_CONNECT_TIMEOUT`` seconds pass without one (a stranger's idle
  sockets do not stay);
- the number of sessions open from each client address, which ``sockets.connect``
  holds against ``DOABLE_REALTIME_MAX_SOCKETS_PER_ADDRESS`` (with a clear
  ``connect_error``); past twice that, the Engine.IO handshake itself is refused, so
  sessions that never send ``CONNECT`` are bounded too.

A session whose Socket.IO connection ends (the client's ``DISCONNECT``, or the server
dropping a revoked login) while the Engine.IO session stays open is put back under the
deadline: it must connect again or go.

It wraps the Engine.IO server's ``connect`` and ``disconnect`` handlers, which
python-socketio registered, and calls them in turn.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: How often expired sessions are looked for, in seconds.
SWEEP_INTERVAL = 0.5


def end_session(server: Any, eio_sid: str) -> None:
    """Close one Engine.IO session now. Not ``eio.disconnect(sid)``: that waits until
    the client has read the close packet, which a long-polling client that never polls
    again never does, and the caller would wait forever."""
    eio = server.eio
    socket = eio.sockets.get(eio_sid)
    if socket is not None:
        socket.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
        eio.sockets.pop(eio_sid, None)


class Gate:
    def __init__(self, server: Any, connect_timeout: float, max_per_address: int) -> None:
        self.server = server
        self.connect_timeout = connect_timeout
        self.handshake_limit = 2 * max_per_address
        self.pending: dict[str, float] = {}  # eio sid -> deadline (monotonic)
        self.address_of: dict[str, str] = {}  # eio sid -> client address
        self.per_address: Counter[str] = Counter()
        self._sweeping = False
        eio = server.eio
        self._on_connect: Callable[..., Any] = eio.handlers["connect"]
        self._on_disconnect: Callable[..., Any] = eio.handlers["disconnect"]
        eio.on("connect", self._connected)
        eio.on("disconnect", self._disconnected)

    def _connected(self, eio_sid: str, environ: dict[str, Any], *args: Any) -> Any:
        address = environ.get("REMOTE_ADDR") or "unknown"
        if self.per_address[address] >= self.handshake_limit:
            log.info("handshake from %s refused: %d sessions open", address, self.handshake_limit)
            return False  # Engine.IO answers the handshake 401
        self.pending[eio_sid] = time.monotonic() + self.connect_timeout
        self.address_of[eio_sid] = address
        self.per_address[address] += 1
        self._sweep_while_pending()
        return self._on_connect(eio_sid, environ, *args)

    def _disconnected(self, eio_sid: str, *args: Any) -> Any:
        try:
            # First: it ends the Socket.IO connection, which may call ``rearm``.
            return self._on_disconnect(eio_sid, *args)
        finally:
            self.pending.pop(eio_sid, None)
            address = self.address_of.pop(eio_sid, None)
            if address is not None:
                self.per_address[address] -= 1
                if self.per_address[address] <= 0:
                    del self.per_address[address]

    def admitted(self, eio_sid: str) -> None:
        """Its ``CONNECT`` was accepted: no deadline any more."""
        self.pending.pop(eio_sid, None)

    def rearm(self, eio_sid: str) -> None:
        """Its Socket.IO connection ended: if the session is still open, it must connect
        again within the deadline."""
        if eio_sid in self.address_of:
            self.pending[eio_sid] = time.monotonic() + self.connect_timeout
            self._sweep_while_pending()

    def is_open(self, eio_sid: str) -> bool:
        return eio_sid in self.address_of

    def sessions_from(self, eio_sid: str) -> int:
        """Engine.IO sessions open in this process from the address of ``eio_sid``."""
        address = self.address_of.get(eio_sid)
        return self.per_address[address] if address is not None else 0

    def close_expired(self) -> int:
        now = time.monotonic()
        expired = [sid for sid, deadline in self.pending.items() if deadline <= now]
        for eio_sid in expired:
            self.pending.pop(eio_sid, None)
            try:
                end_session(self.server, eio_sid)
            except Exception:  # already gone
                log.debug("could not close expired session %s", eio_sid, exc_info=True)
        if expired:
            log.info("closed %d socket(s) that never connected in time", len(expired))
        return len(expired)

    def _sweep_while_pending(self) -> None:
        """Start the sweeper unless it runs: it stops once no session is pending, so a
        process (or a test's app) with no socket waiting holds no background task."""
        if not self._sweeping:
            self._sweeping = True
            self.server.start_background_task(self._sweep)

    def _sweep(self) -> None:
        while self.pending:
            self.server.sleep(SWEEP_INTERVAL)
            try:
                self.close_expired()
            except Exception:
                log.exception("could not close expired sockets")
        self._sweeping = False
        if self.pending:  # armed between the last look and the flag
            self._sweep_while_pending()
