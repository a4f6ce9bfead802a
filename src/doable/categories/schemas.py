from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from doable.schemas import CategoryName, FullMatch, PageOf, PageQuery, Timestamp

COLOR = FullMatch(r"^#[0-9A-Fa-f]{6}$", error="Use a colour like #1a2b3c.")


class CategoryCreate(Schema):
    name = CategoryName(required=True)
    color = fields.String(allow_none=True, validate=COLOR)


class CategoryUpdate(Schema):
    name = CategoryName()
    color = fields.String(allow_none=True, validate=COLOR)

    json_schema_rules: ClassVar[dict[str, Any]] = {"minProperties": 1}

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Send name or color (or both) to change.", "body")


class CategoryRead(Schema):
    id = fields.Integer()
    name = fields.String()
    color = fields.String(allow_none=True)
    task_count = fields.Integer(metadata={"description": "How many tasks have this category"})
    created_at = Timestamp()
    updated_at = Timestamp()


class CategoryListQuery(PageQuery):
    """Paged as ``GET /api/tasks`` is; 100 a page by default, so a page holds every
    category of nearly every user."""

    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=100))


class CategoryPage(PageOf):
    categories = fields.List(fields.Nested(CategoryRead))
