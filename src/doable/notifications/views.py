"""The notifications page: your list, newest first, with its unread count."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__)
