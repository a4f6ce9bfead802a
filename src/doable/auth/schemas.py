from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from doable.auth.models import MAX_EMAIL_KEY, THEMES, fold
from doable.schemas import FullMatch, Timestamp, UserReference
from doable.tasks.time_fields import LocalTime, ZoneName

USERNAME = [
    validate.Length(min=3, max=32),
    FullMatch(r"^[A-Za-z0-9_.-]+$", error="Use only letters, digits, '_', '.' and '-'."),
]
PASSWORD = validate.Length(min=8, max=128)


def _folds_short_enough(email: str) -> None:
    """Folding lengthens some addresses (a ligature becomes several letters): the
    folded form is what the unique index stores, so it is bounded too."""
    if len(fold(email)) > MAX_EMAIL_KEY:
        raise ValidationError(f"Longer than {MAX_EMAIL_KEY} characters once case is folded.")


EMAIL_LENGTH: list[Callable[[Any], Any]] = [validate.Length(max=254), _folds_short_enough]


def _timezone(**kwargs: Any) -> ZoneName:
    return ZoneName(
        metadata={
            "description": 'Where the user lives: their "today" and "overdue", and '
            "the zone of their tasks that name none"
        },
        **kwargs,
    )


class UserCreate(Schema):
    username = fields.String(required=True, validate=USERNAME)
    email = fields.Email(required=True, validate=EMAIL_LENGTH)
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    timezone = _timezone()


class RegistrationRead(Schema):
    message = fields.String(dump_default="User created successfully")
    user_id = fields.Integer()


class LoginCreate(UserReference):
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class RefreshCreate(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class TokenRead(Schema):
    token = fields.String(
        metadata={"description": "Access token (JWT) for the Authorization header"}
    )
    token_type = fields.String(dump_default="Bearer")
    expires_in = fields.Integer(metadata={"description": "Seconds until the access token expires"})
    refresh_token = fields.String()


_THEME = "The web pages' colours: system (the browser's light or dark), light or dark"


class UserRead(Schema):
    id = fields.Integer()
    username = fields.String()
    email = fields.String()
    timezone = fields.String()
    remind_in_app = fields.Boolean()
    remind_by_email = fields.Boolean()
    digest_at = LocalTime(allow_none=True)
    theme = fields.String(metadata={"description": _THEME})
    created_at = Timestamp()
    updated_at = Timestamp()


def _current_password(*, required: bool = True) -> fields.String:
    return fields.String(
        required=required,
        load_only=True,
        validate=validate.Length(max=1024),
        metadata={"description": "The account's password, to confirm it is its owner"},
    )


#: What ``PATCH /api/me`` changes with the current password (and, so, limited like a login).
PASSWORD_CHECKED = frozenset({"email", "password", "current_password"})
#: What it changes without: the account's time, reminder and theme preferences.
PREFERENCES = ("timezone", "remind_in_app", "remind_by_email", "digest_at", "theme")


def _flag(description: str) -> fields.Boolean:
    return fields.Boolean(truthy={True}, falsy={False}, metadata={"description": description})


class UserUpdate(Schema):
    email = fields.Email(validate=EMAIL_LENGTH)
    password = fields.String(load_only=True, validate=PASSWORD)
    revoke_api_tokens = fields.Boolean(
        truthy={True},  # not strings such as "yes"
        falsy={False},
        load_only=True,
        metadata={
            "description": "With a new password: also revoke every personal API token "
            "(sign out everywhere). Without it, API tokens keep working."
        },
    )
    current_password = _current_password(required=False)
    timezone = _timezone()
    remind_in_app = _flag("Reminders and the digest as in-app notifications")
    remind_by_email = _flag("Reminders and the digest by email (when the server sends email)")
    digest_at = LocalTime(
        allow_none=True,
        metadata={
            "description": "The local time of a daily digest (overdue, due today); null: no digest"
        },
    )
    theme = fields.String(
        validate=validate.OneOf(THEMES, error="Must be one of: system, light, dark."),
        metadata={"description": _THEME},
    )

    #: Something to change besides these two (said without ``anyOf`` at the top: client
    #: generators read a body with one as an untyped union); the current password with a
    #: new email or password; ``revoke_api_tokens`` only with a password.
    json_schema_rules: ClassVar[dict[str, Any]] = {
        "not": {"propertyNames": {"enum": ["current_password", "revoke_api_tokens"]}},
        "dependentRequired": {
            "email": ["current_password"],
            "password": ["current_password"],
            "revoke_api_tokens": ["password"],
        },
    }

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = {}
        if not data.keys() - {"current_password", "revoke_api_tokens"}:
            errors["body"] = [
                "Send something to change: email, password, timezone, "
                "remind_in_app, remind_by_email, digest_at or theme."
            ]
        elif data.keys() & {"email", "password"} and "current_password" not in data:
            errors["current_password"] = ["Required to change the email or password."]
        if "revoke_api_tokens" in data and "password" not in data:
            errors["revoke_api_tokens"] = ["Only with a new password."]
        if errors:
            raise ValidationError(errors)


class UserDelete(Schema):
    current_password = _current_password()
