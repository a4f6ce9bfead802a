"""API token routes (docs/api.md, API tokens)."""

from __future__ import annotations

from doable.api import Blueprint
from doable.api_tokens import models  # noqa: F401  (the tables, for the metadata)

bp = Blueprint("api_tokens", __name__, url_prefix="/api", description="API tokens")
