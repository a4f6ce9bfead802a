"""The calendar feed's part of the account page: make, show once, revoke."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("calendar_feed", __name__)
