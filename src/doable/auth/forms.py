"""The account pages' forms: register, log in, change email or password, time and
reminders, theme, delete."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo

from doable.auth.models import THEMES, User
from doable.tasks.recurrence import ZONES
from doable.web.forms import SchemaForm, user_reference, zone_choices


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
    #: The browser's zone, filled in by static/timezone.js.
    timezone = HiddenField(render_kw={"data-browser-timezone": True})

    def account_fields(self) -> dict[str, str]:
        fields = {
            "username": self.username.data or "",
            "email": self.email.data or "",
            "password": self.password.data or "",
        }
        # A zone the browser names but Doable does not know (nobody can correct a
        # hidden field) leaves the account on UTC, to change on the account page.
        if self.timezone.data in ZONES:
            fields["timezone"] = self.timezone.data
        return fields


class LoginForm(SchemaForm):
    login = StringField(
        "Email or username", render_kw={"autocomplete": "username", "required": True}
    )
    password = PasswordField(
        "Password", render_kw={"autocomplete": "current-password", "required": True}
    )
    #: The browser's zone, filled in by static/timezone.js: an account that has not
    #: chosen one adopts it (``auth.service.open_session``).
    timezone = HiddenField(render_kw={"data-browser-timezone": True})
    field_names = {"email": "login", "username": "login"}

    def credentials(self) -> dict[str, str]:
        """Usernames cannot contain ``@``, so an ``@`` means an email address."""
        return {**user_reference(self.login.data), "password": self.password.data or ""}

    def browser_zone(self) -> str | None:
        return self.timezone.data or None


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


class TimeForm(SchemaForm):
    """The account's time zone, reminder channels and digest time (``UserUpdate``'s
    preferences: no password)."""

    timezone = SelectField("Time zone", choices=zone_choices(), validate_choice=False)
    remind_in_app = BooleanField("Remind me in Doable (notifications)")
    remind_by_email = BooleanField("Remind me by email")
    digest_at = StringField(
        "Daily digest at",
        description="Overdue and due-today tasks, once a day at this time; empty: no digest.",
        render_kw={"type": "time"},
    )

    @classmethod
    def of(cls, user: User) -> TimeForm:
        at = user.digest_at
        return cls(
            data={
                "timezone": user.timezone,
                "remind_in_app": user.remind_in_app,
                "remind_by_email": user.remind_by_email,
                "digest_at": "" if at is None else at.strftime("%H:%M"),
            }
        )

    def preferences(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone.data or "",
            "remind_in_app": bool(self.remind_in_app.data),
            "remind_by_email": bool(self.remind_by_email.data),
            "digest_at": (self.digest_at.data or "").strip() or None,
        }


class ThemeForm(SchemaForm):
    """The pages' colour theme (``UserUpdate.theme``), from the account page's radio
    buttons or the header's drop-down; ``next``: the page to go back to."""

    theme = RadioField(
        "Theme",
        choices=[SelectChoice(name, name.capitalize()) for name in THEMES],
        validate_choice=False,
    )
    next = HiddenField()

    def preferences(self) -> dict[str, Any]:
        return {"theme": self.theme.data or ""}


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
