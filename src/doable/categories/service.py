"""Category use cases. Public writes are one unit of work each; ``resolve_categories``
is a helper for the tasks service and only flushes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, literal, or_, select
from sqlalchemy.orm import with_expression
from sqlalchemy.sql.base import ExecutableOption

from doable.auth.models import User
from doable.categories.models import Category, task_category
from doable.changes.log import Recorded, record, record_task
from doable.db import Paged, begin_write, valid_id
from doable.errors import Conflict, NotFound, ProblemType
from doable.extensions import db
from doable.settings import settings
from doable.tasks.models import CATEGORY_NAMES, Task, category_names
from doable.unit_of_work import on_conflict, use_case


def _task_count() -> ExecutableOption:
    """Tasks per category, as a column of the same query (no query per category)."""
    count = select(func.count()).where(task_category.c.category_id == Category.id)
    return with_expression(Category.task_count, count.scalar_subquery())


@dataclass(frozen=True, kw_only=True)
class CategoryPage(Paged):
    categories: list[Category]


class CategoryLimitReached(Conflict):
    """The owner has ``DOABLE_MAX_CATEGORIES_PER_USER`` categories: pages show it by the
    categories field rather than as an error page."""


def list_categories(*, user: User, page: int = 1, per_page: int = 100) -> CategoryPage:
    """One page of the user's categories, by name ignoring case."""
    total = db.session.scalar(select(func.count()).where(Category.user_id == user.id)) or 0
    query = (
        select(Category)
        .where(Category.user_id == user.id)
        .order_by(func.lower(Category.name), Category.id)
        .options(_task_count())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    categories = list(db.session.scalars(query)) if (page - 1) * per_page < total else []
    return CategoryPage(categories=categories, total=total, page=page, per_page=per_page)


def read_categories(
    *, user: User, ids: Iterable[int] | None = None, names: Iterable[str] | None = None
) -> list[Category]:
    """The user's categories, each as ``GET /api/categories/<id>`` shows it (with its
    task count), by id: every one, or (``ids``, ``names``) those with one of these ids
    or names (ignoring case). For the change feed's sync (``doable.changes.service``)."""
    query = select(Category).where(Category.user_id == user.id)
    if ids is not None or names is not None:
        wanted = [Category.id.in_(list(ids or []))]
        folded = [func.lower(literal(name)) for name in names or []]  # as the index folds
        if folded:
            wanted.append(func.lower(Category.name).in_(folded))
        query = query.where(or_(*wanted))
    query = query.order_by(Category.id).options(_task_count())
    return list(db.session.scalars(query.execution_options(populate_existing=True)))


def most_used_names(*, user: User, limit: int) -> list[str]:
    """The names of the user's ``limit`` most used categories (then by name), for pages
    that suggest names without carrying every category."""
    used = select(func.count()).where(task_category.c.category_id == Category.id)
    query = (
        select(Category.name)
        .where(Category.user_id == user.id)
        .order_by(used.scalar_subquery().desc(), func.lower(Category.name), Category.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def get_category_for(*, user: User, category_id: int) -> Category:
    """The user's category, or NotFound (also for another user's)."""
    category = None
    if valid_id(category_id):
        query = (
            select(Category)
            .where(Category.id == category_id, Category.user_id == user.id)
            .options(_task_count())
            .execution_options(populate_existing=True)
        )
        category = db.session.scalars(query).one_or_none()
    if category is None:
        raise NotFound(
            f"Category {category_id} not found", problem_type=ProblemType.CATEGORY_NOT_FOUND
        )
    return category


@use_case
def create_category(*, user: User, name: str, color: str | None = None) -> Category:
    name = name.strip()
    _ensure_free(user.id, name)
    _ensure_room(user.id, 1)
    category = Category(user_id=user.id, name=name, color=color)
    db.session.add(category)
    on_conflict(_taken_conflict(name))
    db.session.flush()
    _record_created(category, actor_id=user.id)
    return _with_task_count(user, category)


@use_case
def update_category(
    *, user: User, category_id: int, name: str | None = None, **changes: str | None
) -> Category:
    """Rename or recolour. A rename changes the tasks with the category, so they are
    announced; a recolour or a write that changes nothing announces nothing."""
    category = get_category_for(user=user, category_id=category_id)
    before = _logged(category)
    new_name = name.strip() if name is not None else category.name
    renamed = new_name != category.name
    if renamed:
        if new_name.lower() != category.name.lower():
            _ensure_free(user.id, new_name)
        _record_tasks_renamed(category, new_name, actor_id=user.id)
        category.name = new_name
    for key, value in changes.items():
        setattr(category, key, value)
    on_conflict(_taken_conflict(category.name))
    changed = {
        key: [value, after]
        for key, value in before.items()
        if (after := _logged(category)[key]) != value
    }
    if changed:
        _record_category(category, "category_updated", changed, actor_id=user.id)
    return _with_task_count(user, category)


@use_case
def delete_category(*, user: User, category_id: int) -> Category:
    """Delete the category; its tasks stay, without it."""
    category = get_category_for(user=user, category_id=category_id)
    _record_tasks_renamed(category, None, actor_id=user.id)
    deleted = {key: [value, None] for key, value in _logged(category).items()}
    _record_category(category, "category_deleted", deleted, actor_id=user.id)
    db.session.delete(category)
    return category  # as it was: a page names what it deleted


def _with_task_count(user: User, category: Category) -> Category:
    """The category after this write, read again with its task count (a flush forgets it)."""
    db.session.flush()
    return get_category_for(user=user, category_id=category.id)


def resolve_categories(
    *, owner_id: int, names: list[str], actor_id: int | None = None
) -> list[Category]:
    """The owner's categories with these names (ignoring case), creating missing ones
    (``actor_id``: who is creating them, the owner unless said)."""
    if not names:
        return []
    names = [name.strip() for name in names]
    # Fold case in the database, exactly as the unique index on lower(name) does.
    keys = db.session.execute(select(*(func.lower(literal(name)) for name in names))).one()
    wanted: dict[str, str] = {}
    for key, name in zip(keys, names, strict=True):
        wanted.setdefault(key, name)
    found = {
        key: category
        for category, key in db.session.execute(
            select(Category, func.lower(Category.name)).where(
                Category.user_id == owner_id, func.lower(Category.name).in_(list(wanted))
            )
        )
    }
    missing = [key for key in wanted if key not in found]
    _ensure_room(owner_id, len(missing))
    for key in missing:
        found[key] = Category(user_id=owner_id, name=wanted[key])
        db.session.add(found[key])
    db.session.flush()
    for key in missing:
        _record_created(found[key], actor_id=owner_id if actor_id is None else actor_id)
    return [found[key] for key in wanted]


def _logged(category: Category) -> dict[str, str | None]:
    """A category as its changes are logged."""
    return {"name": category.name, "color": category.color}


def _record_created(category: Category, *, actor_id: int) -> None:
    created = {key: [None, value] for key, value in _logged(category).items()}
    _record_category(category, "category_created", created, actor_id=actor_id)


def _record_category(
    category: Category, action: str, changes: dict[str, list[str | None]], *, actor_id: int
) -> None:
    """Log a change to a category: only its owner sees categories."""
    record(
        Recorded(
            entity="category",
            entity_id=category.id,
            action=action,
            changes=changes,
            actor_id=actor_id,
            audience={category.user_id: None},
        )
    )


def _record_tasks_renamed(category: Category, new_name: str | None, *, actor_id: int) -> None:
    """Log the change to each task with ``category`` when it is renamed to
    ``new_name`` (``None``: deleted): their categories, as everyone who sees them sees
    them, change."""
    tagged = (
        select(Task.id, Task.version, CATEGORY_NAMES.label("category_names"))
        .join(task_category, task_category.c.task_id == Task.id)
        .where(task_category.c.category_id == category.id)
    )
    for task in db.session.execute(tagged):
        before = category_names(task)
        after = [name for name in before if name != category.name]
        if new_name is not None:
            after = sorted([*after, new_name], key=str.lower)
        changes = {"categories": [before, after]}
        record_task(task.id, task.version, "updated", changes, actor_id=actor_id)


def _ensure_free(user_id: int, name: str) -> None:
    query = select(Category.id).where(
        Category.user_id == user_id, func.lower(Category.name) == func.lower(name)
    )
    if db.session.scalar(query) is not None:
        taken = ProblemType.CATEGORY_NAME_TAKEN
        raise Conflict(_taken(name), problem_type=taken, errors={"name": [_taken(name)]})


def _ensure_room(owner_id: int, adding: int) -> None:
    """Conflict unless the owner may have ``adding`` more categories
    (``DOABLE_MAX_CATEGORIES_PER_USER``): every page and list of them stays bounded."""
    if adding <= 0:
        return
    # Writers adding to one owner's categories take turns from here to their commit, so
    # two of them cannot both see room for the last one.
    begin_write(db.session, select(User.id).where(User.id == owner_id))
    limit = settings().max_categories_per_user
    have = db.session.scalar(select(func.count()).where(Category.user_id == owner_id)) or 0
    if have + adding > limit:
        raise CategoryLimitReached(
            f"At most {limit} categories per user: {have} exist and this would add "
            f"{adding}. Delete unused ones, or use existing names.",
            problem_type=ProblemType.CATEGORY_LIMIT_REACHED,
            limit=limit,
        )


def _taken(name: str) -> str:
    return f"You already have a category named '{name}'"


def _taken_conflict(name: str) -> Conflict:
    """A concurrent request took the name first (the unique index refused it)."""
    return Conflict(_taken(name), problem_type=ProblemType.CATEGORY_NAME_TAKEN)
