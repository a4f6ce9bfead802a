from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from doable.auth.models import MAX_EMAIL_KEY, fold
from doable.schemas import FullMatch, Timestamp, UserReference

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


class UserCreate(Schema):
    username = fields.String(required=True, validate=USERNAME)
    email = fields.Email(required=True, validate=EMAIL_LENGTH)
    password = fields.String(required=True, load_only=True, validate=PASSWORD)


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


class UserRead(Schema):
    id = fields.Integer()
    username = fields.String()
    email = fields.String()
    created_at = Timestamp()
    updated_at = Timestamp()


def _current_password() -> fields.String:
    return fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(max=1024),
        metadata={"description": "The account's password, to confirm it is its owner"},
    )


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
    current_password = _current_password()

    #: At least one of email or password, said without ``anyOf`` at the top (client
    #: generators read a body with one as an untyped union); ``revoke_api_tokens`` only
    #: with a password.
    json_schema_rules: ClassVar[dict[str, Any]] = {
        "if": {"not": {"required": ["email"]}},
        "then": {"required": ["password"]},
        "dependentRequired": {"revoke_api_tokens": ["password"]},
    }

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = {}
        if "email" not in data and "password" not in data:
            errors["body"] = ["Send email or password (or both) to change."]
        if "revoke_api_tokens" in data and "password" not in data:
            errors["revoke_api_tokens"] = ["Only with a new password."]
        if errors:
            raise ValidationError(errors)


class UserDelete(Schema):
    current_password = _current_password()
