"""How an API request is read: the body types and sizes a route takes, and the
arguments parser (400 on invalid input, unknown query parameters refused, text the
database cannot store refused everywhere)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from flask import current_app, request
from marshmallow import RAISE, ValidationError
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from doable.errors import UnsupportedMediaType
from doable.settings import settings

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def accepts(*mimetypes: str) -> Callable[[Any], Any]:
    """Declare the body content types a view takes (JSON when undeclared)."""

    def decorator(view: Any) -> Any:
        view.accepted_mimetypes = frozenset(mimetypes)
        return view

    return decorator


def _has_body() -> bool:
    return (
        bool(request.content_length)
        or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    )


def check_api_body() -> None:
    """API bodies must be of the declared type (415) and JSON ones stay small (413)."""
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    if request.routing_exception is not None:
        return  # no such route or method: that 404/405 is the answer, whatever the body
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "requires_auth", False) and "Authorization" not in request.headers:
        return  # a protected route answers 401 before it looks at the body
    accepted = getattr(view, "accepted_mimetypes", None) or frozenset({"application/json"})
    if "application/json" in accepted and request.is_json:
        _limit_json_body(settings().max_json_size)
    if not _has_body() or request.mimetype in accepted:
        return
    if request.mimetype.endswith("+json") and "application/json" in accepted:
        return
    sent = request.mimetype or "none"
    raise UnsupportedMediaType(
        f"Send the body as {' or '.join(sorted(accepted))} (Content-Type sent: {sent})",
        headers={"Accept-Post": ", ".join(sorted(accepted))},
    )


def _limit_json_body(limit: int) -> None:
    """A JSON body over ``limit`` bytes is 413, sized or streamed. Werkzeug refuses a
    sized one from its Content-Length, but cuts a streamed one (chunked, no
    Content-Length) at the limit without a word, and the cut JSON would be a 400: read
    it here, up to one byte past the limit, to tell (the parser reads the cached copy)."""
    if request.content_length is not None:
        request.max_content_length = limit
        return
    request.max_content_length = limit + 1
    if len(request.get_data(cache=True)) > limit:
        raise RequestEntityTooLarge()


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
