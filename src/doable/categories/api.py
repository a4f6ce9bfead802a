"""Category routes: list (paged), create, read, rename or recolour, delete
(docs/api.md, Categories)."""

from __future__ import annotations

from typing import Any

from flask import url_for

from doable.api import Blueprint
from doable.api.auth import auth_required, current_user
from doable.categories import service
from doable.categories.schemas import (
    CategoryCreate,
    CategoryListQuery,
    CategoryPage,
    CategoryRead,
    CategoryUpdate,
)

bp = Blueprint(
    "categories", __name__, url_prefix="/api/categories", description="Your task categories"
)


@bp.get("")
@auth_required(scope="tasks:read")
@bp.arguments(CategoryListQuery, location="query")
@bp.response(200, CategoryPage)
def list_categories(query: dict[str, Any]) -> Any:
    """Your categories, each with how many tasks have it, a page at a time

    Sorted by name ignoring case; ``page`` and ``per_page`` (1-100, default 100) as for
    ``GET /api/tasks``, with ``total`` and ``pages`` in the answer.
    """
    return service.list_categories(user=current_user, **query)


@bp.post("")
@auth_required(scope="tasks:write")
@bp.arguments(CategoryCreate)
@bp.response(201, CategoryRead)
@bp.alt_response(409, response="CONFLICT")
def create_category(data: dict[str, Any]) -> Any:
    """Create a category (names are unique per user, ignoring case)

    409 also when the user already has DOABLE_MAX_CATEGORIES_PER_USER categories (500 by
    default); the problem's ``limit`` member gives the limit.
    """
    category = service.create_category(user=current_user, **data)
    return category, 201, {"Location": url_for(".get_category", category_id=category.id)}


@bp.get("/<int:category_id>")
@auth_required(scope="tasks:read")
@bp.response(200, CategoryRead)
@bp.alt_response(404, response="NOT_FOUND")
def get_category(category_id: int) -> Any:
    """One of your categories"""
    return service.get_category_for(user=current_user, category_id=category_id)


@bp.route("/<int:category_id>", methods=["PUT", "PATCH"])
@auth_required(scope="tasks:write")
@bp.arguments(CategoryUpdate)
@bp.response(200, CategoryRead)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def update_category(changes: dict[str, Any], category_id: int) -> Any:
    """Rename or recolour a category"""
    return service.update_category(user=current_user, category_id=category_id, **changes)


@bp.delete("/<int:category_id>")
@auth_required(scope="tasks:write")
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def delete_category(category_id: int) -> None:
    """Delete a category; its tasks stay, without it"""
    service.delete_category(user=current_user, category_id=category_id)
