"""The API tokens page (web UI)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api_tokens", __name__)
