"""The JSON API's toolkit: the blueprint every API area is built on, the id converter
of every route, and the conditional and idempotency request headers as OpenAPI
parameters. Parsing
rules are in ``doable.api.parsing``, authentication in ``doable.api.auth``."""

from __future__ import annotations

import flask_smorest
from werkzeug.routing import IntegerConverter

from doable.api.parsing import Parser

#: The conditional request headers a route honours, as OpenAPI header parameters.
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "schema": {"type": "string"},
    "description": "ETags (or `*`): change nothing and answer 412 unless one is current",
}
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "schema": {"type": "string"},
    "description": "ETags (or `*`): answer 304 without a body when one is current",
}

#: Declared on every write that takes a token (``doable.openapi``), where it is honoured
#: (``doable.changes.idempotency``).
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": "Your unique key for this request (1 to 255 visible ASCII characters). "
    "A retry with the same key and the same method, path and body gets the first "
    "response again (with `Idempotent-Replayed: true`) and changes nothing more; the same "
    "key for another request is 422 (`idempotency-key-reused`), and while the first is "
    "still being answered, 409 (`idempotency-key-in-use`, `Retry-After`). Kept 24 hours "
    "(`DOABLE_IDEMPOTENCY_KEY_TTL_HOURS`), per user. A request that changed nothing "
    "keeps nothing, and neither do the account routes (`/api/logout`, `/api/me`): a "
    "retry of those runs again.",
}


class IdConverter(IntegerConverter):
    """``<int:…>`` in routes (pages too): ASCII digits only (Werkzeug's also takes
    Arabic-Indic ones) and at most ten of them; services answer 404 for ids out of range."""

    regex = r"[0-9]{1,10}"


class Blueprint(flask_smorest.Blueprint):
    """An API blueprint: bearer tokens only, never cookies (so no CSRF check, app.py)."""

    ARGUMENTS_PARSER = Parser()
