"""What the OpenAPI document says of every operation, stated once rather than on each
route: its ``operationId``, that it is public when no token is asked for, and the
refusals every route can answer before its view runs."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from apispec import BasePlugin

#: Refusals of the request hooks (``doable.security``), whatever the route: a URL too
#: long; a body of a type the route does not take (any method that may carry one); a
#: body too large (a route that reads one).
_EVERY_ROUTE = (HTTPStatus.REQUEST_URI_TOO_LONG,)
_BODY_METHODS = {"post", "put", "patch", "delete"}
_READS_BODY = (HTTPStatus.REQUEST_ENTITY_TOO_LARGE,)
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
            for status in statuses:
                responses.setdefault(str(status.value), status.name)
