"""Webhook routes (docs/api.md, Webhooks)."""

from __future__ import annotations

from doable.api import Blueprint
from doable.webhooks import models  # noqa: F401  (the tables, for the metadata)

bp = Blueprint("webhooks", __name__, url_prefix="/api", description="Webhooks")
