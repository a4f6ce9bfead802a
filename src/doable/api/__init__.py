"""The JSON API's toolkit: the blueprint every API area is built on, the id converter
of every route, and the conditional request headers as OpenAPI parameters. Parsing
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


class IdConverter(IntegerConverter):
    """``<int:…>`` in routes (pages too): ASCII digits only (Werkzeug's also takes
    Arabic-Indic ones) and at most ten of them; services answer 404 for ids out of range."""

    regex = r"[0-9]{1,10}"


class Blueprint(flask_smorest.Blueprint):
    """An API blueprint: bearer tokens only, never cookies (so no CSRF check, app.py)."""

    ARGUMENTS_PARSER = Parser()
