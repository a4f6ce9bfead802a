"""Access tokens this process verified, so a token's later requests skip PyJWT.

Checking a token's signature and claims (``tokens.read_token``) is the largest part of
what authenticating an API call costs, and a client sends the same access token for
every call of its 15 minutes. Once a token passed the full check, its claims are kept
here, keyed by the token itself (its signature included: a token differing in one
character is another key and gets the full check), and only what the clock changes is
checked again on each use: ``exp``, ``iat`` and ``nbf``, with the same leeway. An
expired token is refused as ``read_token`` refuses it (``ExpiredSignatureError``), so the
caller answers the same 401.

Nothing else about a token changes with time, so nothing else is checked again. Its
login session is: revocation is not decided here but by ``load_session_user``, after
the claims, on every request. The cache belongs to one app (``app.extensions``): an app
with another key never sees tokens another app verified. Only access tokens are kept.

Bounds: ``MAX_ENTRIES`` tokens (the oldest go first; expired ones as soon as they are
the oldest, or when next presented).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from flask import Flask, current_app
from jwt import ExpiredSignatureError

#: Tokens kept per process: about a kilobyte each with their claims.
MAX_ENTRIES = 10_000


class _Entry(NamedTuple):
    claims: dict[str, Any]
    good_from: float  # the latest of iat and nbf, less the leeway
    good_until: float  # exp plus the leeway: at this instant the token has expired


class TokenCache:
    """The access tokens one app verified, with the times their claims allow."""

    def __init__(
        self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def claims(self, token: str) -> dict[str, Any] | None:
        """A copy of the claims of ``token`` if it passed the full check here and its
        times still allow it now; None when it has to be checked in full. Raises
        ``ExpiredSignatureError`` once it has expired, as PyJWT would."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        now = self._clock()
        if entry.good_from <= now < entry.good_until:
            return dict(entry.claims)
        with self._lock:
            self._entries.pop(token, None)
        if now >= entry.good_until:
            raise ExpiredSignatureError("Signature has expired")
        return None  # not yet valid (the clock went back): the full check says why

    def keep(self, token: str, claims: dict[str, Any], leeway: float) -> None:
        """Remember ``token``, which ``read_token`` has just accepted with ``claims``
        (so its ``exp`` and ``iat`` are there and read as integers, as PyJWT reads them)."""
        starts = max(int(claims["iat"]), int(claims.get("nbf", claims["iat"])))
        entry = _Entry(dict(claims), starts - leeway, int(claims["exp"]) + leeway)
        now = self._clock()
        with self._lock:
            self._entries[token] = entry
            while self._entries:  # the oldest first: gone once expired or over the bound
                oldest = next(iter(self._entries))
                expired = self._entries[oldest].good_until <= now
                if not expired and len(self._entries) <= self._max_entries:
                    break
                del self._entries[oldest]


def init_token_cache(app: Flask) -> None:
    """This app's cache; read it back with :func:`token_cache`."""
    app.extensions["doable.token_cache"] = TokenCache()


def token_cache(app: Flask | None = None) -> TokenCache:
    found: TokenCache = (app or current_app).extensions["doable.token_cache"]
    return found
