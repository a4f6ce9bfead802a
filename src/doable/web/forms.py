"""The web UI's forms. WTForms renders the fields and keeps what was typed; the API's own
marshmallow schemas validate the values (``SchemaForm.validate_with``), so a page accepts
exactly what the API accepts and says so in the same words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from marshmallow import Schema, ValidationError
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo

from doable.api.parsing import bad_text_errors
from doable.sharing.models import Permission
from doable.tasks.schemas import PRIORITIES, SORT_KEYS, STATUSES

ANY = ("", "Any")
SORT_LABELS = {
    "created_at": "Created",
    "updated_at": "Updated",
    "due_date": "Due date",
    "priority": "Priority",
    "title": "Title",
}


def label(value: str) -> str:
    """``in_progress`` -> ``In progress``."""
    return value.replace("_", " ").capitalize()


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [(value, label(value)) for value in values]


def _select(text: str, choices: list[tuple[str, str]], **kwargs: Any) -> SelectField:
    # The schema checks the value (one rule, one message); WTForms only renders it.
    options = [SelectChoice(value, name) for value, name in choices]
    return SelectField(text, choices=options, validate_choice=False, **kwargs)


def split_names(text: str | None) -> list[str]:
    """``"home, study,"`` -> ``["home", "study"]``: categories typed as one line."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


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
            return schema.load(data)
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


class RegisterForm(SchemaForm):
    username = StringField("Username", render_kw={"autocomplete": "username", "required": True})
    email = StringField(
        "Email", render_kw={"type": "email", "autocomplete": "email", "required": True}
    )
    password = PasswordField(
        "Password", render_kw={"autocomplete": "new-password", "required": True}
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[EqualTo("password", message="The passwords do not match.")],
        render_kw={"autocomplete": "new-password", "required": True},
    )

    def account_fields(self) -> dict[str, str]:
        return {
            "username": self.username.data or "",
            "email": self.email.data or "",
            "password": self.password.data or "",
        }


class LoginForm(SchemaForm):
    login = StringField(
        "Email or username", render_kw={"autocomplete": "username", "required": True}
    )
    password = PasswordField(
        "Password", render_kw={"autocomplete": "current-password", "required": True}
    )
    field_names = {"email": "login", "username": "login"}

    def credentials(self) -> dict[str, str]:
        """Usernames cannot contain ``@``, so an ``@`` means an email address."""
        return {**user_reference(self.login.data), "password": self.password.data or ""}


class AccountForm(SchemaForm):
    email = StringField("Email", render_kw={"type": "email", "autocomplete": "email"})
    password = PasswordField(
        "New password (leave empty to keep it)", render_kw={"autocomplete": "new-password"}
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[EqualTo("password", message="The passwords do not match.")],
        render_kw={"autocomplete": "new-password"},
    )
    current_password = PasswordField(
        "Current password", render_kw={"autocomplete": "current-password", "required": True}
    )

    def changes(self, current_email: str) -> dict[str, str]:
        data = {"current_password": self.current_password.data or ""}
        if (self.email.data or "") != current_email:
            data["email"] = self.email.data or ""
        if self.password.data:
            data["password"] = self.password.data
        return data


class ConfirmForm(Form):
    """A button that changes something: only the CSRF token travels."""


class DeleteAccountForm(SchemaForm):
    confirm = BooleanField(
        "Yes, delete my account, my tasks and their files",
        validators=[DataRequired(message="Tick the box to confirm.")],
    )
    current_password = PasswordField(
        "Current password", render_kw={"autocomplete": "current-password", "required": True}
    )

    def confirmation(self) -> dict[str, str]:
        return {"current_password": self.current_password.data or ""}


class TaskForm(SchemaForm):
    title = StringField("Title", render_kw={"required": True})
    description = TextAreaField("Description", render_kw={"rows": 5})
    status = _select("Status", _choices(STATUSES), default="pending")
    priority = _select("Priority", _choices(PRIORITIES), default="medium")
    due_date = StringField("Due date", render_kw={"type": "date"})
    categories = StringField(
        "Categories", description="Names separated by commas; new ones are created."
    )
    #: The task's ETag when the form was shown: a save on a changed task is refused.
    version = HiddenField()

    def task_fields(self) -> dict[str, Any]:
        return {
            "title": self.title.data or "",
            "description": self.description.data or "",
            "status": self.status.data,
            "priority": self.priority.data,
            "due_date": self.due_date.data or None,
            "categories": split_names(self.categories.data),
        }


class FilterForm(SchemaForm):
    """The task list's filters: a GET form (it changes nothing)."""

    q = StringField("Search", render_kw={"type": "search"})
    status = _select("Status", [ANY, *_choices(STATUSES)])
    priority = _select("Priority", [ANY, *_choices(PRIORITIES)])
    category = StringField("Category", render_kw={"list": "category-names"})
    due_after = StringField("Due from", render_kw={"type": "date"})
    due_before = StringField("Due until", render_kw={"type": "date"})
    overdue = _select("Overdue", [ANY, ("true", "Overdue only"), ("false", "Not overdue")])
    scope = _select(
        "Whose", [("all", "All"), ("owned", "Mine"), ("shared", "Shared with me")], default="all"
    )
    sort = _select(
        "Sort by",
        [
            (f"{direction}{key}", f"{SORT_LABELS[key]} {arrow}")
            for key in SORT_KEYS
            for direction, arrow in (("-", "↓"), ("", "↑"))
        ],
        default="-created_at",
    )
    per_page = _select("Per page", [(str(n), str(n)) for n in (10, 25, 50, 100)], default="10")

    def query(self, page: str | None) -> dict[str, str]:
        """The parameters given, as the API's ``TaskListQuery`` takes them."""
        given = {
            field.name: field.data for field in self if field.data not in (None, "", field.default)
        }
        if page:
            given["page"] = page
        return given


class ShareForm(SchemaForm):
    who = StringField("Username or email", render_kw={"required": True})
    permission = _select(
        "Permission",
        [(Permission.VIEW.value, "Can view"), (Permission.EDIT.value, "Can edit")],
        default=Permission.VIEW.value,
    )
    field_names = {"email": "who", "username": "who", "user": "who"}

    def share_fields(self) -> dict[str, str]:
        return {**user_reference(self.who.data), "permission": self.permission.data}


class UploadForm(SchemaForm):
    file = FileField("File")


class CategoryForm(SchemaForm):
    name = StringField("Name", render_kw={"required": True})
    color = StringField(
        "Colour", description="Optional, like #3b82f6.", render_kw={"placeholder": "#3b82f6"}
    )

    def category_fields(self) -> dict[str, Any]:
        return {"name": self.name.data or "", "color": (self.color.data or "").strip() or None}
