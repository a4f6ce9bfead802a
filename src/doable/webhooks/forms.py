"""The webhook pages' forms: a webhook's URL, events and description (and, once it
exists, whether it is active). The API's schemas check the values."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from doable.web.forms import SchemaForm
from doable.webhooks.models import EVENT_TYPES
from doable.webhooks.schemas import ALL_EVENTS

EVENT_CHOICES = [
    SelectChoice(ALL_EVENTS, "Every event, present and future"),
    *(SelectChoice(event, event) for event in EVENT_TYPES),
]


class WebhookForm(SchemaForm):
    url = StringField(
        "Payload URL",
        description="Where events are POSTed. https:// is recommended; http:// works for "
        "receivers on your own network when the server allows it.",
        render_kw={"required": True, "placeholder": "https://example.com/hooks/doable"},
    )
    #: Checkboxes; the schema checks the values (one rule, one message).
    events = SelectMultipleField(
        "Events",
        choices=EVENT_CHOICES,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    description = StringField("Description", description="Optional: what it is for.")

    def webhook_fields(self) -> dict[str, Any]:
        return {
            "url": (self.url.data or "").strip(),
            "events": list(self.events.data or []),
            "description": (self.description.data or "").strip(),
        }


class WebhookEditForm(WebhookForm):
    active = BooleanField(
        "Active", description="Unticked, nothing is sent; ticking it again resumes it."
    )

    def webhook_fields(self) -> dict[str, Any]:
        return {**super().webhook_fields(), "active": bool(self.active.data)}
