"""The form that shares a task from its page."""

from __future__ import annotations

from wtforms import StringField

from doable.sharing.models import Permission
from doable.web.forms import SchemaForm, select_field, user_reference


class ShareForm(SchemaForm):
    who = StringField("Username or email", render_kw={"required": True})
    permission = select_field(
        "Permission",
        [(Permission.VIEW.value, "Can view"), (Permission.EDIT.value, "Can edit")],
        default=Permission.VIEW.value,
    )
    field_names = {"email": "who", "username": "who", "user": "who"}

    def share_fields(self) -> dict[str, str]:
        return {**user_reference(self.who.data), "permission": self.permission.data}
