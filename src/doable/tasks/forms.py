"""The task pages' forms: a task's fields and the list's filters."""

from __future__ import annotations

from typing import Any

from wtforms import HiddenField, StringField, TextAreaField

from doable.tasks.schemas import PRIORITIES, SORT_KEYS, STATUSES
from doable.web.forms import SchemaForm, label, select_field

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


class TaskForm(SchemaForm):
    title = StringField("Title", render_kw={"required": True})
    description = TextAreaField("Description", render_kw={"rows": 5})
    status = select_field("Status", _choices(STATUSES), default="pending")
    priority = select_field("Priority", _choices(PRIORITIES), default="medium")
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
