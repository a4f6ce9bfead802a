"""Schema pieces shared by every domain."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from doable.errors import ProblemType

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class FullMatch(validate.Regexp):
    """A pattern the whole value must match. Plain ``Regexp`` uses ``re.match``, where
    ``$`` also matches before a trailing newline, so ``"alice\\n"`` would pass."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


#: Characters a name shown on one line may not contain: C0 and C1 controls (tab and
#: newline included) and DEL, line and paragraph separators, and the invisible format
#: characters that hide or reorder text (soft hyphen, zero-width characters, bidi
#: controls, word joiners, BOM, interlinear annotation).
HIDDEN_CHARACTERS = (
    r"\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    r"\u2060-\u206f\ufeff\ufff9-\ufffb"
)

#: A regular expression, so the OpenAPI document states the same rule as a ``pattern``
#: and clients (and fuzzers) can tell a valid value in advance.
not_blank = FullMatch(r"[\s\S]*\S[\s\S]*", error="Must not be blank.")
_HIDDEN = re.compile(f"[{HIDDEN_CHARACTERS}]")


def no_control_characters(value: str) -> None:
    if _HIDDEN.search(value):
        raise ValidationError("Must not contain control characters.")


#: A category name, wherever one is given (categories API, a task's categories): the
#: document's pattern is both rules at once (a visible character, no hidden ones).
CATEGORY_NAME: list[Any] = [validate.Length(min=1, max=50), not_blank, no_control_characters]
#: Ends with "no character follows" rather than ``$``, which Python (and generators
#: built on it) also lets match before a final newline.
CATEGORY_NAME_PATTERN = (
    f"^[^{HIDDEN_CHARACTERS}]*[^\\s{HIDDEN_CHARACTERS}][^{HIDDEN_CHARACTERS}]*(?![\\s\\S])"
)


class CategoryName(fields.String):
    """A category name, wherever one is given (categories API, a task's categories, the
    list filter), documented with the pattern that states its rules."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"pattern": CATEGORY_NAME_PATTERN, **kwargs.pop("metadata", {})}
        super().__init__(validate=CATEGORY_NAME, metadata=metadata, **kwargs)


class Timestamp(fields.DateTime):
    """ISO 8601 UTC with a ``Z``, as docs/api.md shows: ``2026-01-05T10:30:00Z``.

    The format is applied when serialising rather than passed as ``format=``, so the
    OpenAPI document still calls it a plain ``date-time``.
    """

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return timestamp(value)


def timestamp(value: datetime | None) -> str | None:
    """A moment as the API writes it (``Timestamp``)."""
    if value is None:
        return None
    # isoformat, not strftime: strftime writes the year 999 as 999, not 0999
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


#: The highest ``page`` a list accepts: beyond any real list, below what offsets can hold.
MAX_PAGE = 1_000_000


class Query(Schema):
    """A query string's parameters. A parameter given twice is refused, as everywhere."""

    @pre_load
    def _no_repeats(self, data: Any, **kwargs: Any) -> Any:
        """``?status=a&status=b`` is ambiguous: refuse it rather than pick one."""
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            repeated = [key for key in data if len(getlist(key)) > 1]
            if repeated:
                raise ValidationError({key: ["Give this parameter once."] for key in repeated})
        return data


class PageQuery(Query):
    """``page`` (from 1) and ``per_page`` (1-100) of a paged list's query; answered with
    a ``PageOf`` body."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class PageOf(Schema):
    """The paging members of a list's answer; each list adds its items."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()


def _problem_types() -> dict[str, Any]:
    """The ``type`` member, documented as the list of every kind of problem."""
    kinds = "\n".join(f"- `{kind.uri}` ({kind.status}): {kind.meaning}" for kind in ProblemType)
    return {
        "enum": [kind.uri for kind in ProblemType] + ["about:blank"],
        "example": ProblemType.TASK_NOT_FOUND.uri,
        "description": "What kind of problem this is: an identifier to compare, not an "
        "address to fetch. `about:blank` means no more than the status.\n\n" + kinds,
    }


class ProblemSchema(Schema):
    """RFC 9457 Problem Details, the body of every error response."""

    type = fields.String(required=True, metadata=_problem_types())
    title = fields.String(required=True, metadata={"example": "Not Found"})
    status = fields.Integer(required=True, metadata={"example": 404})
    detail = fields.String(metadata={"example": "Task 7 not found"})
    request_id = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation errors: each bad field with its messages"},
    )
    limit = fields.Integer(
        metadata={"description": "The bound reached (the `…-limit-reached` problems)"}
    )
    required_scope = fields.String(
        metadata={"description": "The scope the API token lacks (`insufficient-scope`)"}
    )


#: ``alt_response`` arguments of the 409 of a route that creates something bounded
#: (a ``…-limit-reached`` problem says how many are allowed in ``limit``).
LIMIT_REACHED: dict[str, Any] = {
    "schema": ProblemSchema,
    "content_type": "application/problem+json",
    "description": "Conflict: a limit reached (`limit`), or a concurrent request",
}


class UserReference(Schema):
    """Names a user by exactly one of ``username`` or ``email`` (matched ignoring case)."""

    #: Exactly one of the two, said without ``oneOf`` at the top (client generators read a
    #: body with one as an untyped union).
    json_schema_rules: ClassVar[dict[str, Any]] = {
        "if": {"required": ["username"]},
        "then": {"not": {"required": ["email"]}},
        "else": {"required": ["email"]},
    }

    username = fields.String(validate=validate.Length(min=1, max=254))
    email = fields.String(validate=validate.Length(min=1, max=254))

    @validates_schema
    def _exactly_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("username" in data) == ("email" in data):
            message = "Send exactly one of username or email."
            raise ValidationError({"username": [message], "email": [message]})
