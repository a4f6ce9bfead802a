"""The account pages' forms: register, log in, change email or password, delete."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from doable.web.forms import SchemaForm, user_reference


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
    revoke_api_tokens = BooleanField(
        "With the new password, also revoke my API tokens (sign out everywhere)"
    )
    current_password = PasswordField(
        "Current password", render_kw={"autocomplete": "current-password", "required": True}
    )

    def changes(self, current_email: str) -> dict[str, Any]:
        data: dict[str, Any] = {"current_password": self.current_password.data or ""}
        if (self.email.data or "") != current_email:
            data["email"] = self.email.data or ""
        if self.password.data:
            data["password"] = self.password.data
        if self.revoke_api_tokens.data:
            data["revoke_api_tokens"] = True
        return data


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
