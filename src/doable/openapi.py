"""The OpenAPI document and its Swagger UI.

``api`` is flask-smorest's ``Api``, rendering and documenting errors as Problem
Details. What the document says of every operation is stated once here rather than
on each route: its ``operationId``, that it is public when no token is asked for, the
refusals every route can answer before its view runs, the ``Idempotency-Key`` of every
write that takes a token, the rules each schema checks,
and that a response carries every field. Swagger UI's files are served from the
installed package, not from a CDN.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path
from typing import Any

import flask_swagger_ui
from apispec import BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin, resolve_schema_cls
from flask import Blueprint, Response, send_from_directory
from flask_smorest import Api as _SmorestApi
from werkzeug.exceptions import HTTPException

from doable.api import IDEMPOTENCY_KEY
from doable.errors import render_http_exception
from doable.schemas import ProblemSchema

#: Schemas in these roles are responses, and a response carries every field of its
#: schema, always (``null`` where a field may be empty): the document says so.
RESPONSE_ROLES = ("Read", "List", "Page")
#: Refusals of the request checks (``doable.security``, ``doable.api.parsing``),
#: whatever the route: a URL too long; a body of a type the route does not take (any
#: method that may carry one); a body too large (a route that reads one).
_EVERY_ROUTE = (HTTPStatus.REQUEST_URI_TOO_LONG,)
_BODY_METHODS = {"post", "put", "patch", "delete"}
_READS_BODY = (HTTPStatus.REQUEST_ENTITY_TOO_LARGE,)
#: What a write that takes a token may answer for its ``Idempotency-Key``: in use, reused.
_IDEMPOTENT = (HTTPStatus.CONFLICT, HTTPStatus.UNPROCESSABLE_ENTITY)
#: When one view answers several methods, this one keeps the plain operationId and the
#: others get the method as a suffix (``updateTask`` for PATCH, ``updateTaskPut``).
_MAIN_METHOD = "patch"


def operation_id(endpoint: str, method: str, methods: set[str]) -> str:
    """``tasks.update_task`` -> ``updateTask``: the view's name in camelCase, stable as
    long as the view keeps its name."""
    first, *rest = endpoint.rsplit(".", 1)[-1].split("_")
    name = first + "".join(word.capitalize() for word in rest)
    main = _MAIN_METHOD if _MAIN_METHOD in methods else min(methods)
    return name if method == main else name + method.capitalize()


class OperationConventions(BasePlugin):
    """Completes each operation as flask-smorest hands it to apispec."""

    def operation_helper(self, path: Any = None, operations: Any = None, **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        methods = set(operations)
        for method, operation in operations.items():
            operation.setdefault("operationId", operation_id(rule.endpoint, method, methods))
            operation.setdefault("security", [])  # no token asked for: say so explicitly
            responses = operation.setdefault("responses", {})
            statuses = [*_EVERY_ROUTE]
            if method in _BODY_METHODS:
                statuses.append(HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
            if "requestBody" in operation:
                statuses.extend(_READS_BODY)
            if method in _BODY_METHODS and operation["security"]:
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                statuses.extend(_IDEMPOTENT)
            for status in statuses:  # unless the route documents it (keys: int or text)
                if status.value not in responses and str(status.value) not in responses:
                    responses[str(status.value)] = status.name


class SchemaRulesPlugin(MarshmallowPlugin):
    """Adds a schema's ``json_schema_rules`` (JSON Schema keywords for the rules its
    ``@validates_schema`` hooks check, such as "exactly one of" or "at least one field")
    to its component, so the document states every rule the API enforces; and marks every
    field of a response schema required."""

    def schema_helper(self, name: Any, _: Any, schema: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        json_schema = super().schema_helper(name, _, schema=schema, **kwargs)  # type: ignore[no-untyped-call]
        if json_schema is None or schema is None:
            return json_schema
        schema_cls = resolve_schema_cls(schema)
        json_schema.update(getattr(schema_cls, "json_schema_rules", None) or {})
        if getattr(schema_cls, "__name__", "").endswith(RESPONSE_ROLES):
            sometimes = getattr(schema_cls, "sometimes", ())  # members only some answers have
            properties = json_schema.get("properties", {})
            json_schema["required"] = [name for name in properties if name not in sometimes]
        return json_schema


class Api(_SmorestApi):
    """flask-smorest's Api, with errors rendered and documented as Problem Details."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return render_http_exception(error)

    def _register_responses(self) -> None:
        """Document every error response as ``application/problem+json``."""
        problem = {"application/problem+json": {"schema": "ProblemSchema"}}
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = problem
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {"description": "Error (Problem Details)", "content": problem},
            lazy=True,
        )

    def _register_pagination_header(self) -> None:
        """Not used: pages are described by the list schemas (``TaskPage``)."""


api = Api(
    spec_kwargs={
        "marshmallow_plugin": SchemaRulesPlugin(),
        "extra_plugins": [OperationConventions()],
    }
)

SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
#: Swagger UI's files (``OPENAPI_SWAGGER_UI_URL``), served from the installed package.
assets = Blueprint("swagger_ui", __name__)


@assets.get("/api/docs/assets/<path:filename>")
def swagger_ui_asset(filename: str) -> Response:
    return send_from_directory(SWAGGER_UI_DIST, filename, max_age=86400)
