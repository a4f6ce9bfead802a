"""The access rule (docs/api.md, Sharing): every task route against every role (owner, edit
sharee, view sharee, stranger). A refusal changes nothing in the database; a stranger
cannot tell a hidden task from a missing one; a change of share takes effect at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.matrix import Matrix, accounts_by_role, assert_hidden_like_missing, share_by_role

TABLES = ["task", "share", "category", "task_category"]
MISSING_TASK = 999


# --- helpers -------------------------------------------------------------------------


def snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a task route may write, every column, in a fixed order."""
    state = {}
    with app.app_context():
        for name in TABLES:
            table = db.metadata.tables[name]
            query = sa.select(table).order_by(*table.primary_key.columns)
            state[name] = [tuple(row) for row in db.session.execute(query)]
    return state


@dataclass
class World:
    """alice's task, shared with bob (edit) and carol (view); dave sees nothing;
    erin is someone to share with."""

    task_id: int
    accounts: dict[str, Account]

    def path(self, template: str, task_id: int | None = None) -> str:
        return template.format(
            task=self.task_id if task_id is None else task_id,
            view_user=self.accounts["view"].id,
        )


@pytest.fixture
def world(api: ApiClient) -> World:
    accounts = accounts_by_role(api)
    alice = accounts["owner"]
    api.account("erin")
    response = api.post(
        "/api/tasks",
        alice.token,
        json={"title": "Plan the trip", "description": "secret plans", "categories": ["Home"]},
    )
    assert response.status_code == 201, response.get_json()
    task_id = response.get_json()["id"]
    share_by_role(api, accounts, task_id)
    return World(task_id, accounts)


def call(api: ApiClient, world: World, role: str, route: str, task_id: int | None = None) -> Any:
    method, template, body = ROUTES[route]
    kwargs = {} if body is None else {"json": body}
    token = world.accounts[role].token
    return getattr(api, method)(world.path(template, task_id), token, **kwargs)


# --- the matrix ----------------------------------------------------------------------

# A write body that would also create a category: a refused write must not leave it behind.
UPDATE = {"title": "Changed", "categories": ["Home", "Brand new"]}
ROUTES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "get-task": ("get", "/api/tasks/{task}", None),
    "put-task": ("put", "/api/tasks/{task}", UPDATE),
    "patch-task": ("patch", "/api/tasks/{task}", UPDATE),
    "delete-task": ("delete", "/api/tasks/{task}", None),
    "share": ("post", "/api/tasks/{task}/share", {"username": "erin", "permission": "edit"}),
    "list-shares": ("get", "/api/tasks/{task}/share", None),
    "unshare": ("delete", "/api/tasks/{task}/share/{view_user}", None),
}
#: route -> status for (owner, edit, view, stranger)
MATRIX = Matrix(
    {
        "get-task": (200, 200, 200, 404),
        "put-task": (200, 200, 403, 404),
        "patch-task": (200, 200, 403, 404),
        "delete-task": (204, 403, 403, 404),
        "share": (201, 403, 403, 404),
        "list-shares": (200, 403, 403, 404),
        # removing the view sharee's share: the owner may, and so may that sharee (leaving)
        "unshare": (204, 403, 204, 404),
    }
)
READS = {"get-task", "list-shares"}


def test_matrix_covers_every_route_and_role() -> None:
    MATRIX.assert_covers(ROUTES)


@MATRIX.parametrize(MATRIX.refused)
def test_task_route_refused_role_returns_status_and_changes_nothing(
    api: ApiClient, app: Flask, world: World, route: str, role: str, status: int
) -> None:
    before = snapshot(app)

    response = call(api, world, role, route)

    problem = assert_problem(response, status)
    assert set(problem) >= {"type", "title", "status", "detail", "request_id"}
    assert "ETag" not in response.headers
    assert "secret plans" not in response.get_data(as_text=True)
    assert snapshot(app) == before


@MATRIX.parametrize(MATRIX.allowed)
def test_task_route_allowed_role_returns_status_and_writes_only_when_writing(
    api: ApiClient, app: Flask, world: World, route: str, role: str, status: int
) -> None:
    before = snapshot(app)

    response = call(api, world, role, route)

    assert response.status_code == status, response.get_data(as_text=True)
    if route in READS:
        assert snapshot(app) == before
    else:
        assert snapshot(app) != before


ACCESS_CASES = [
    (route, role)
    for route, role, status in MATRIX.allowed
    if route in ("get-task", "put-task", "patch-task") and status == 200
]


@pytest.mark.parametrize(("route", "role"), ACCESS_CASES, ids=[f"{r}-{o}" for r, o in ACCESS_CASES])
def test_task_response_carries_the_callers_access(
    api: ApiClient, world: World, route: str, role: str
) -> None:
    response = call(api, world, role, route)

    assert response.status_code == 200
    body = response.get_json()
    assert body["access"] == role
    assert body["owner"] == {"id": world.accounts["owner"].id, "username": "alice"}


@pytest.mark.parametrize("route", list(ROUTES))
def test_task_route_stranger_gets_the_same_404_as_for_a_missing_task(
    api: ApiClient, app: Flask, world: World, route: str
) -> None:
    hidden = call(api, world, "stranger", route)
    missing = call(api, world, "owner", route, task_id=MISSING_TASK)

    assert_hidden_like_missing(hidden, missing, world.task_id, MISSING_TASK)


# --- the roles in detail -------------------------------------------------------------


def test_patch_by_view_sharee_returns_403_and_changes_nothing(
    api: ApiClient, app: Flask, world: World
) -> None:
    before = snapshot(app)

    response = api.patch(
        f"/api/tasks/{world.task_id}", world.accounts["view"].token, json={"status": "completed"}
    )

    assert_problem(response, 403)
    assert snapshot(app) == before


def test_patch_by_edit_sharee_changes_the_task_and_reports_edit_access(
    api: ApiClient, world: World
) -> None:
    bob = world.accounts["edit"]

    response = api.patch(
        f"/api/tasks/{world.task_id}", bob.token, json={"title": "Bob's title", "priority": "high"}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["priority"], body["access"]) == ("Bob's title", "high", "edit")
    assert body["owner"]["id"] == world.accounts["owner"].id
    owners_view = api.get(f"/api/tasks/{world.task_id}", world.accounts["owner"].token)
    assert owners_view.get_json()["title"] == "Bob's title"
    assert owners_view.get_json()["access"] == "owner"


def test_edit_sharee_write_keeps_the_task_owned_by_the_owner(
    api: ApiClient, app: Flask, world: World
) -> None:
    bob = world.accounts["edit"]

    response = api.put(f"/api/tasks/{world.task_id}", bob.token, json={"title": "x"})

    assert response.status_code == 200
    assert response.get_json()["owner"]["id"] == world.accounts["owner"].id
    with app.app_context():
        owners = db.session.scalars(sa.select(Task.user_id)).all()
    assert owners == [world.accounts["owner"].id]


def test_revoking_a_share_removes_access_at_once(api: ApiClient, app: Flask, world: World) -> None:
    owner, bob = world.accounts["owner"], world.accounts["edit"]
    assert api.get(f"/api/tasks/{world.task_id}", bob.token).status_code == 200

    revoked = api.delete(f"/api/tasks/{world.task_id}/share/{bob.id}", owner.token)
    response = api.get(f"/api/tasks/{world.task_id}", bob.token)

    assert revoked.status_code == 204
    assert_problem(response, 404)
    before = snapshot(app)
    assert_problem(api.patch(f"/api/tasks/{world.task_id}", bob.token, json={"title": "x"}), 404)
    assert snapshot(app) == before


def test_downgrading_edit_to_view_makes_the_next_patch_403(
    api: ApiClient, app: Flask, world: World
) -> None:
    owner, bob = world.accounts["owner"], world.accounts["edit"]
    downgraded = api.post(
        f"/api/tasks/{world.task_id}/share",
        owner.token,
        json={"username": "bob", "permission": "view"},
    )
    assert downgraded.status_code == 200
    before = snapshot(app)

    response = api.patch(f"/api/tasks/{world.task_id}", bob.token, json={"title": "too late"})

    assert_problem(response, 403)
    assert snapshot(app) == before
    assert api.get(f"/api/tasks/{world.task_id}", bob.token).get_json()["access"] == "view"


def test_upgrading_view_to_edit_makes_the_next_patch_succeed(api: ApiClient, world: World) -> None:
    owner, carol = world.accounts["owner"], world.accounts["view"]
    upgraded = api.post(
        f"/api/tasks/{world.task_id}/share",
        owner.token,
        json={"username": "carol", "permission": "edit"},
    )
    assert upgraded.status_code == 200

    response = api.patch(f"/api/tasks/{world.task_id}", carol.token, json={"title": "by carol"})

    assert response.status_code == 200
    assert (response.get_json()["title"], response.get_json()["access"]) == ("by carol", "edit")


@pytest.mark.parametrize("role", ["owner", "edit", "view"])
def test_task_list_shows_the_shared_task_with_the_callers_access(
    api: ApiClient, world: World, role: str
) -> None:
    response = api.get("/api/tasks", world.accounts[role].token)

    assert response.status_code == 200
    body = response.get_json()
    assert [(task["id"], task["access"]) for task in body["tasks"]] == [(world.task_id, role)]
    assert body["total"] == 1


def test_task_list_of_stranger_is_empty(api: ApiClient, world: World) -> None:
    response = api.get("/api/tasks?scope=all", world.accounts["stranger"].token)

    assert response.status_code == 200
    assert (response.get_json()["tasks"], response.get_json()["total"]) == ([], 0)


@pytest.mark.parametrize("role", ["edit", "view", "stranger"])
def test_delete_by_non_owner_leaves_the_task_and_its_shares(
    api: ApiClient, app: Flask, world: World, role: str
) -> None:
    before = snapshot(app)

    response = api.delete(f"/api/tasks/{world.task_id}", world.accounts[role].token)

    assert_problem(response, 404 if role == "stranger" else 403)
    assert snapshot(app) == before
    owner_view = api.get(f"/api/tasks/{world.task_id}", world.accounts["owner"].token)
    assert owner_view.status_code == 200
