"""The task pages' forms: a task's fields and the list's filters."""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import ValidationError
from wtforms import FieldList, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from doable.tasks import quick_add, time_form
from doable.tasks.schemas import (
    PRIORITIES,
    SORT_KEYS,
    STATUSES,
    QuickTaskRead,
    TaskCreate,
    quick_task_data,
)
from doable.web.forms import Form, SchemaForm, label, select_field, zone_choices

ANY = ("", "Any")
SORT_LABELS = {
    "created_at": "Created",
    "updated_at": "Updated",
    "due_date": "Due date",
    "priority": "Priority",
    "title": "Title",
}


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [(value, label(value)) for value in values]


def split_names(text: str | None) -> list[str]:
    """``"home, study,"`` -> ``["home", "study"]``: categories typed as one line."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


#: The most reminder rows a form reads (the API's own limit, lower, says how many may be
#: set): a forged form with a thousand rows costs no more than this.
MAX_REMINDER_ROWS = 20


class ReminderRow(Form):
    """One reminder: "N minutes/hours/days before" the due time, or "at" a local time."""

    kind = select_field(
        "Reminder", [("", "No reminder"), ("before", "Before it is due"), ("at", "At")]
    )
    amount = StringField("How long before", render_kw={"type": "number", "min": 1})
    unit = select_field("Unit", [(unit, unit) for unit in time_form.UNITS], default="minutes")
    at = StringField("At (local date and time)", render_kw={"type": "datetime-local"})

    def spec(self) -> dict[str, str] | None:
        return time_form.reminder(
            self.kind.data or "", self.amount.data or "", self.unit.data or "", self.at.data or ""
        )


class TaskForm(SchemaForm):
    title = StringField("Title", render_kw={"required": True})
    description = TextAreaField("Description", render_kw={"rows": 5})
    status = select_field("Status", _choices(STATUSES), default="pending")
    priority = select_field("Priority", _choices(PRIORITIES), default="medium")
    due_date = StringField("Due date", render_kw={"type": "date"})
    due_time = StringField(
        "Due time", description="Empty: due on the day.", render_kw={"type": "time"}
    )
    timezone = SelectField("Time zone", default="", validate_choice=False)
    repeat = select_field("Repeats", time_form.PRESETS)
    rule = StringField(
        "Custom rule",
        description="With “Custom rule”: an RRULE such as FREQ=MONTHLY;BYDAY=2TU.",
        render_kw={"spellcheck": "false"},
    )
    repeat_mode = select_field("Next date", time_form.MODES, default="schedule")
    reminders = FieldList(FormField(ReminderRow), max_entries=MAX_REMINDER_ROWS)
    categories = StringField(
        "Categories", description="Names separated by commas; new ones are created."
    )
    #: The task's ETag when the form was shown: a save on a changed task is refused.
    version = HiddenField()
    field_names = {"recurrence": "repeat"}

    def for_zone(self, zone: str, rows: int) -> TaskForm:
        """Offer the zones (the first choice: the user's own, ``zone``) and ``rows``
        reminder rows at least."""
        self.timezone.choices = [SelectChoice("", f"Your zone ({zone})"), *zone_choices()]
        while len(self.reminders) < rows:
            self.reminders.append_entry()
        return self

    def task_fields(self) -> dict[str, Any]:
        due_date = self.due_date.data or None
        return {
            "title": self.title.data or "",
            "description": self.description.data or "",
            "status": self.status.data,
            "priority": self.priority.data,
            "due_date": due_date,
            "due_time": self.due_time.data or None,
            "timezone": self.timezone.data or None,
            "recurrence": time_form.recurrence(
                self.repeat.data or "",
                _date(due_date),
                self.rule.data or "",
                self.repeat_mode.data or "",
            ),
            "reminders": [spec for row in self.reminders if (spec := row.form.spec()) is not None],
            "categories": split_names(self.categories.data),
        }


def _date(text: str | None) -> date | None:
    """The due date typed, if it is one (else the API's schema says what is wrong)."""
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


class FilterForm(SchemaForm):
    """The task list's filters: a GET form (it changes nothing)."""

    q = StringField("Search", render_kw={"type": "search"})
    status = select_field("Status", [ANY, *_choices(STATUSES)])
    priority = select_field("Priority", [ANY, *_choices(PRIORITIES)])
    category = StringField("Category", render_kw={"list": "category-names"})
    due_after = StringField("Due from", render_kw={"type": "date"})
    due_before = StringField("Due until", render_kw={"type": "date"})
    overdue = select_field("Overdue", [ANY, ("true", "Overdue only"), ("false", "Not overdue")])
    scope = select_field(
        "Whose", [("all", "All"), ("owned", "Mine"), ("shared", "Shared with me")], default="all"
    )
    sort = select_field(
        "Sort by",
        [
            (f"{direction}{key}", f"{SORT_LABELS[key]} {arrow}")
            for key in SORT_KEYS
            for direction, arrow in (("-", "↓"), ("", "↑"))
        ],
        default="-created_at",
    )
    per_page = select_field("Per page", [(str(n), str(n)) for n in (10, 25, 50, 100)], default="10")

    def query(self, page: str | None) -> dict[str, str]:
        """The parameters given, as the API's ``TaskListQuery`` takes them."""
        given = {
            field.name: field.data for field in self if field.data not in (None, "", field.default)
        }
        if page:
            given["page"] = page
        return given


class QuickAddForm(SchemaForm):
    """One line read as a task (``tasks.quick_add``): previewed, or added."""

    text = StringField(
        "Quick add",
        id="quick-add",
        description="For example: Pay rent tomorrow 9am #home !high",
        render_kw={"autocomplete": "off", "maxlength": quick_add.MAX_TEXT, "required": True},
    )

    def task_fields(self, found: quick_add.QuickTask) -> dict[str, Any] | None:
        """``found`` as ``TaskCreate`` loads it, or None with why next to the field: the
        API's own rules (a title of 200 characters at most, 20 categories...)."""
        if not found.title:
            self.text.errors = [*self.text.errors, NO_TITLE]
            return None
        body = QuickTaskRead().dump(quick_task_data(found))
        del body["parts"]
        try:
            loaded: dict[str, Any] = TaskCreate().load(body)
        except ValidationError as exc:
            self.text.errors = [*self.text.errors, *_explained(exc.messages)]
            return None
        return loaded


NO_TITLE = "Add a title: only a date, a time, categories or a priority were recognised."


def _explained(messages: Any, name: str = "") -> list[str]:
    """A schema's errors (nested by field, and by index for lists) as sentences."""
    if isinstance(messages, dict):
        return [
            text for key, value in messages.items() for text in _explained(value, name or str(key))
        ]
    if isinstance(messages, list):
        return [text for value in messages for text in _explained(value, name)]
    return [f"{label(name)}: {messages}" if name else str(messages)]
