"""The categories page's form: a category's name and colour."""

from __future__ import annotations

from typing import Any

from wtforms import StringField

from doable.web.forms import SchemaForm


class CategoryForm(SchemaForm):
    name = StringField("Name", render_kw={"required": True})
    color = StringField(
        "Colour", description="Optional, like #3b82f6.", render_kw={"placeholder": "#3b82f6"}
    )

    def category_fields(self) -> dict[str, Any]:
        return {"name": self.name.data or "", "color": (self.color.data or "").strip() or None}
