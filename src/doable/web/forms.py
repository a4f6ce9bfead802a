"""What the web UI's forms share; each domain keeps its own in ``<domain>/forms.py``.

WTForms renders the fields and keeps what was typed; the API's own marshmallow schemas
validate the values (``SchemaForm.validate_with``), so a page accepts exactly what the
API accepts and says so in the same words."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from flask_wtf import FlaskForm
from marshmallow import Schema, ValidationError
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from doable.api.parsing import bad_text_errors
from doable.tasks.recurrence import ZONES


def label(value: str) -> str:
    """``in_progress`` -> ``In progress``."""
    return value.replace("_", " ").capitalize()


def select_field(text: str, choices: list[tuple[str, str]], **kwargs: Any) -> SelectField:
    """A drop-down of ``(value, label)`` choices. The schema checks the value (one rule,
    one message); WTForms only renders it."""
    options = [SelectChoice(value, name) for value, name in choices]
    return SelectField(text, choices=options, validate_choice=False, **kwargs)


@cache
def zone_choices() -> list[SelectChoice]:
    """Every zone for a drop-down, grouped by region (``Europe/Berlin`` under Europe,
    ``UTC`` and the other one-word names under Other), each shown without its region."""
    choices = []
    for name in sorted(ZONES, key=lambda name: ("/" not in name, name)):
        region, _, place = name.partition("/")
        shown = (place or name).replace("_", " ")
        choices.append(SelectChoice(name, shown, optgroup=region if place else "Other"))
    return choices


def _messages(value: Any) -> list[str]:
    """marshmallow's messages for one field (nested for list items) as plain strings."""
    if isinstance(value, Mapping):
        return [
            f"Item {int(key) + 1}: {text}" if isinstance(key, int) else text
            for key, inner in value.items()
            for text in _messages(inner)
        ]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _messages(item)]
    return [str(value)]


def user_reference(typed: str | None) -> dict[str, str]:
    """What a person typed to name a user, as the API's ``UserReference``: usernames
    cannot contain ``@``, so an ``@`` means an email address."""
    text = (typed or "").strip()
    return {"email" if "@" in text else "username": text}


class Form(FlaskForm):
    """Base of every form. CSRFProtect checks the token of every POST before any view
    runs (templates render it with ``csrf_field()``), so forms do not check it again."""

    class Meta:
        csrf = False


class SchemaForm(Form):
    """A form whose values one of the API's schemas validates."""

    #: schema field name -> form field name, where they differ
    field_names: Mapping[str, str] = {}

    def validate_with(self, schema: Schema, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """The form's own checks (CSRF, repeated passwords) and the schema's, every error
        shown at once; the loaded values if all pass."""
        valid = self.validate()
        loaded = self.load(schema, data)
        return loaded if valid else None

    def load(self, schema: Schema, data: Mapping[str, Any]) -> dict[str, Any] | None:
        """``schema.load(data)``, or None with the errors put on the fields they name."""
        bad_text = bad_text_errors(data)
        if bad_text:
            self.add_errors(bad_text)
            return None
        try:
            loaded: dict[str, Any] = schema.load(data)
            return loaded
        except ValidationError as exc:
            self.add_errors(exc.messages if isinstance(exc.messages, Mapping) else {})
            return None

    def add_errors(self, errors: Mapping[str, Any]) -> None:
        """Errors by field name (a schema's, or a service's ``errors=``); the ones that
        name no field of this form are shown above it."""
        for name, value in errors.items():
            field = self._fields.get(self.field_names.get(name, name))
            if field is None:
                named = name not in ("body", "_schema")
                self.form_errors.extend(
                    f"{label(name)}: {text}" if named else text for text in _messages(value)
                )
            else:
                field.errors = [*field.errors, *_messages(value)]

    @property
    def failed(self) -> bool:
        return bool(self.form_errors) or any(field.errors for field in self)


class ConfirmForm(Form):
    """A button that changes something: only the CSRF token travels."""
