"""The categories page: create, rename or recolour, delete (each user's own)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from doable.auth.models import User
from doable.categories import service
from doable.categories.forms import CategoryForm
from doable.categories.schemas import CategoryCreate, CategoryUpdate
from doable.errors import Conflict
from doable.web import Page
from doable.web.forms import ConfirmForm
from doable.web.session import login_required

bp = Blueprint("categories", __name__)
#: Categories a page lists, each with its edit form: the page stays small at any count.
PER_PAGE = 50


@bp.get("/categories")
@login_required
def index(user: User) -> Page:
    return _page(user, CategoryForm(formdata=None))


@bp.post("/categories")
@login_required
def create(user: User) -> Page:
    form = CategoryForm()
    data = form.validate_with(CategoryCreate(), form.category_fields())
    if data is not None:
        try:
            category = service.create_category(user=user, **data)
        except Conflict as exc:  # the name is taken, or there are too many categories
            form.add_errors(exc.extra.get("errors") or {"name": [exc.detail]})
        else:
            flash(f"Category “{category.name}” created.", "success")
            return redirect(url_for(".index"))
    return _page(user, form, status=400)


@bp.post("/categories/<int:category_id>")
@login_required
def update(user: User, category_id: int) -> Page:
    form = CategoryForm(prefix=_prefix(category_id))
    data = form.validate_with(CategoryUpdate(), form.category_fields())
    if data is None:  # the guard first: 404 before the form's errors
        service.get_category_for(user=user, category_id=category_id)
    else:  # the service runs the guard
        try:
            category = service.update_category(user=user, category_id=category_id, **data)
        except Conflict as exc:
            form.add_errors(exc.extra.get("errors") or {"name": [exc.detail]})
        else:
            flash(f"Category “{category.name}” saved.", "success")
            return redirect(url_for(".index"))
    return _page(user, CategoryForm(formdata=None), {category_id: form}, status=400)


@bp.route("/categories/<int:category_id>/delete", methods=["GET", "POST"])
@login_required
def delete(user: User, category_id: int) -> Page:
    form = ConfirmForm()
    if form.validate_on_submit():  # the service runs the guard
        deleted = service.delete_category(user=user, category_id=category_id)
        flash(f"Category “{deleted.name}” deleted; its tasks stay.", "success")
        return redirect(url_for(".index"))
    category = service.get_category_for(user=user, category_id=category_id)
    count = category.task_count or 0
    return render_template(
        "confirm.html",
        form=form,
        question=f"Delete the category “{category.name}”?",
        consequence=f"Its {count} task{'s' if count != 1 else ''} stay, without it.",
        button="Delete category",
        cancel=url_for(".index"),
    )


def _prefix(category_id: int) -> str:
    return f"category-{category_id}"


def _page(
    user: User,
    new_form: CategoryForm,
    row_forms: dict[int, CategoryForm] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The page of categories asked for (``?page=``), each with its edit form."""
    page = service.list_categories(user=user, page=_page_number(), per_page=PER_PAGE)
    categories = page.categories
    forms = {
        category.id: (row_forms or {}).get(category.id)
        or CategoryForm(
            formdata=None,
            prefix=_prefix(category.id),
            data={"name": category.name, "color": category.color or ""},
        )
        for category in categories
    }
    html = render_template(
        "categories.html", page=page, categories=categories, forms=forms, new_form=new_form
    )
    return html, status


def _page_number() -> int:
    """``?page=`` when it is a usable page number; else the first page."""
    number = request.args.get("page", "")
    return int(number) if number.isascii() and number.isdigit() and 0 < len(number) < 7 else 1
