"""The API tokens page's form: a token's name, scopes and lifetime."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wtforms import SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice

from doable.api_tokens.models import SCOPES
from doable.db import utcnow
from doable.schemas import timestamp
from doable.web.forms import SchemaForm, select_field

#: What each scope lets a token do, as the page says it.
SCOPE_LABELS = {
    "tasks:read": "tasks:read: read tasks, categories, shares, files and history",
    "tasks:write": "tasks:write: create, change and delete them",
    "events:read": "events:read: the change feed, sync and real-time events",
    "webhooks:manage": "webhooks:manage: create and manage webhooks",
}
#: The lifetimes offered, in days ("" never expires).
LIFETIMES = [("30", "30 days"), ("90", "90 days"), ("365", "A year"), ("", "Never")]


class ScopesField(SelectMultipleField):
    """Check boxes, one a scope; the schema checks the values (one rule, one message)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        """The API's schema says what is wrong, in its own words."""


class TokenForm(SchemaForm):
    name = StringField(
        "Name", description="What it is for, e.g. “backup script”.", render_kw={"required": True}
    )
    scopes = ScopesField(
        "Scopes", choices=[SelectChoice(scope, SCOPE_LABELS[scope]) for scope in SCOPES]
    )
    lifetime = select_field("Expires", LIFETIMES)
    field_names = {"expires_at": "lifetime"}

    def token_fields(self) -> dict[str, Any]:
        days = self.lifetime.data or ""
        expires_at = None
        if days.isascii() and days.isdigit() and len(days) < 5:  # not "²": int() refuses it
            expires_at = timestamp(utcnow() + timedelta(days=int(days)))
        elif days:
            expires_at = days  # not one offered: the schema refuses it
        return {
            "name": self.name.data or "",
            "scopes": list(self.scopes.data or []),
            "expires_at": expires_at,
        }
