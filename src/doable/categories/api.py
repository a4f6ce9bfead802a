"""Category routes (docs/api.md, Categories)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_jwt_extended import current_user

from doable.categories import service
from doable.categories.schemas import CategoryCreate, CategoryList, CategoryRead, CategoryUpdate
from doable.rest import Blueprint, auth_required

bp = Blueprint(
    "categories", __name__, url_prefix="/api/categories", description="Your task categories"
)


@bp.get("")
@auth_required
@bp.response(200, CategoryList)
def list_categories() -> Any:
    """Your categories, each with how many tasks have it"""
    return {"categories": service.list_categories(user=current_user)}


@bp.post("")
@auth_required
@bp.arguments(CategoryCreate)
@bp.response(201, CategoryRead)
@bp.alt_response(409, response="CONFLICT")
def create_category(data: dict[str, Any]) -> Any:
    """Create a category (names are unique per user, ignoring case)"""
    category = service.create_category(user=current_user, **data)
    return category, 201, {"Location": url_for(".get_category", category_id=category.id)}


@bp.get("/<int:category_id>")
@auth_required
@bp.response(200, CategoryRead)
@bp.alt_response(404, response="NOT_FOUND")
def get_category(category_id: int) -> Any:
    """One of your categories"""
    return service.get_category_for(current_user, category_id)


@bp.route("/<int:category_id>", methods=["PUT", "PATCH"])
@auth_required
@bp.arguments(CategoryUpdate)
@bp.response(200, CategoryRead)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def update_category(changes: dict[str, Any], category_id: int) -> Any:
    """Rename or recolour a category"""
    return service.update_category(user=current_user, category_id=category_id, **changes)


@bp.delete("/<int:category_id>")
@auth_required
@bp.response(204)
@bp.alt_response(404, response="NOT_FOUND")
def delete_category(category_id: int) -> None:
    """Delete a category; its tasks stay, without it"""
    service.delete_category(user=current_user, category_id=category_id)
