"""The pieces every JSON API blueprint is built from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from copy import deepcopy
from typing import Any

import flask_smorest
from flask_jwt_extended import jwt_required
from flask_smorest.utils import deepupdate
from marshmallow import RAISE, ValidationError
from webargs.flaskparser import FlaskParser

BEARER_AUTH = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
UNAUTHORIZED_DOC = {"$ref": "#/components/responses/UNAUTHORIZED"}


class Parser(FlaskParser):
    """SPEC §2: failed validation is 400, and unknown query parameters are refused too.

    Text containing NUL is refused for every field of every location: PostgreSQL cannot
    store it, and no name, title or search needs it.
    """

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
    }

    def _load_location_data(self, *, schema: Any, req: Any, location: str) -> Any:
        data = super()._load_location_data(schema=schema, req=req, location=location)
        bad = sorted(set(_fields_with_nul(data)))
        if bad:
            raise ValidationError({name: ["Must not contain NUL characters."] for name in bad})
        return data


def _fields_with_nul(data: Any, name: str = "body") -> Iterator[str]:
    if isinstance(data, str):
        if "\x00" in data:
            yield name
    elif isinstance(data, Mapping):
        getlist = getattr(data, "getlist", None)  # query strings and forms repeat keys
        for key in data:
            for value in getlist(key) if getlist else [data[key]]:
                yield from _fields_with_nul(value, str(key))
            if isinstance(key, str) and "\x00" in key:
                yield "body"
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _fields_with_nul(value, name)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


def auth_required(view: Any) -> Any:
    """Require a valid access token, and say so in the OpenAPI document."""
    protected = jwt_required()(view)
    protected.requires_auth = True  # read by hooks: authentication is answered first
    protected._apidoc = deepupdate(
        deepcopy(getattr(view, "_apidoc", {})),
        {"manual_doc": {"security": [{"bearerAuth": []}], "responses": {"401": UNAUTHORIZED_DOC}}},
    )
    return protected
