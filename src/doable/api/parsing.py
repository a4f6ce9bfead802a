"""The pieces every JSON API blueprint is built from."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from copy import deepcopy
from functools import wraps
from typing import Any

import flask_smorest
from flask import current_app
from flask_smorest.utils import deepupdate
from marshmallow import RAISE, ValidationError
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.routing import IntegerConverter

from doable.auth.tokens import authenticate, authenticated_user_id
from doable.extensions import client_address_key, limiter

BEARER_AUTH = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
UNAUTHORIZED_DOC = {"$ref": "#/components/responses/UNAUTHORIZED"}
TOO_MANY_REQUESTS_DOC = {"$ref": "#/components/responses/TOO_MANY_REQUESTS"}
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


class Parser(FlaskParser):
    """Failed validation is 400, and unknown query parameters are refused (docs/api.md).

    Text containing NUL, or a lone surrogate (``"\\ud800"`` is valid JSON but not
    UTF-8), is refused for every field of every location: the database cannot store it.
    """

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
        "files": RAISE,
    }

    def load_files(self, req: Any, schema: Any) -> Any:
        """A multipart body's plain fields are parts too: ``files`` sees them all, so an
        unknown one is refused rather than silently dropped."""
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)

    def _raw_load_json(self, req: Any) -> Any:
        """JSON nested too deep, or a number too long to convert, is malformed JSON."""
        try:
            return super()._raw_load_json(req)
        except (RecursionError, ValueError) as exc:
            if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
                raise
            malformed = json.JSONDecodeError(type(exc).__name__, "", 0)
            return self._handle_invalid_json_error(malformed, req)

    def _load_location_data(self, *, schema: Any, req: Any, location: str) -> Any:
        data = super()._load_location_data(schema=schema, req=req, location=location)
        errors = bad_text_errors(data)
        if errors:
            raise ValidationError(errors)
        return data


def bad_text_errors(data: Any) -> dict[str, list[str]]:
    """An error for each field of ``data`` holding text the database cannot store (the
    API's parser and the web forms both refuse it)."""
    message = "Must be valid text: no NUL characters or lone surrogates."
    return {name: [message] for name in sorted(set(_fields_with_bad_text(data)))}


def _bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _fields_with_bad_text(data: Any, name: str = "body") -> Iterator[str]:
    if isinstance(data, str):
        if _bad_text(data):
            yield name
    elif isinstance(data, Mapping):
        getlist = getattr(data, "getlist", None)  # query strings and forms repeat keys
        for key in data:
            for value in getlist(key) if getlist else [data[key]]:
                yield from _fields_with_bad_text(value, str(key))
            if isinstance(key, str) and _bad_text(key):
                yield "body"
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _fields_with_bad_text(value, name)


class IdConverter(IntegerConverter):
    """``<int:…>`` in routes: ASCII digits only (Werkzeug's also takes Arabic-Indic
    ones) and at most ten of them; services answer 404 for ids out of range."""

    regex = r"[0-9]{1,10}"


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


def caller_key() -> str:
    """Rate-limit key of an API call: its user when it holds a live access token (the
    check that authenticates the call, made once for both), else its address (an IPv6
    client by its /64). So a dead token (expired, revoked, rotated, a refresh token)
    spends the budget of whoever sends it, never its owner's."""
    user_id = authenticated_user_id()
    return f"user:{user_id}" if user_id is not None else f"ip:{client_address_key()}"


def _api_rate_limit() -> str:
    return str(current_app.config["API_RATE_LIMIT"])


#: One budget per user across every authenticated route (``DOABLE_API_RATE_LIMIT``).
api_limit = limiter.shared_limit(_api_rate_limit, scope="api", key_func=caller_key)


def auth_required(view: Any) -> Any:
    """Require a valid access token, count the call against its user's rate limit, and
    say both in the OpenAPI document."""

    @wraps(view)
    def authenticated(*args: Any, **kwargs: Any) -> Any:
        authenticate()
        return current_app.ensure_sync(view)(*args, **kwargs)

    protected: Any = api_limit(authenticated)
    protected.requires_auth = True  # read by hooks: authentication is answered first
    protected._apidoc = deepupdate(
        deepcopy(getattr(view, "_apidoc", {})),
        {
            "manual_doc": {
                "security": [{"bearerAuth": []}],
                "responses": {"401": UNAUTHORIZED_DOC, "429": TOO_MANY_REQUESTS_DOC},
            }
        },
    )
    return protected
