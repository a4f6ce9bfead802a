"""The pieces every JSON API blueprint is built from."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import flask_smorest
from flask_jwt_extended import jwt_required
from flask_smorest.utils import deepupdate
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser

BEARER_AUTH = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
UNAUTHORIZED_DOC = {"$ref": "#/components/responses/UNAUTHORIZED"}


class Parser(FlaskParser):
    """SPEC §2: failed validation is 400, and unknown query parameters are refused too."""

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
        "querystring": RAISE,
    }


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
