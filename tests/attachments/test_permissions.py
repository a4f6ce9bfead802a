"""The access rule for attachments (docs/api.md, Sharing and Attachments): every
attachment route against every role (owner, edit sharee, view sharee, stranger) and
against no token at all. A refusal changes neither the rows nor the files on disk, and a
stranger cannot tell a hidden task or attachment from a missing one."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from doable.attachments.models import Attachment
from doable.extensions import db
from tests.support.attachments import files_under
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.matrix import Matrix, accounts_by_role, assert_hidden_like_missing, share_by_role

SECRET = b"%PDF-1.7 secret plans \x00\xff"
NEW_FILE = b"a new upload"
MISSING = 999

# --- helpers -------------------------------------------------------------------------


def snapshot(app: Flask) -> dict[str, Any]:
    """Every attachment row, every column, and every file under the upload folder."""
    with app.app_context():
        table = Attachment.__table__
        found = [tuple(r) for r in db.session.execute(sa.select(table).order_by(table.c.id))]
    root = Path(app.config["UPLOAD_DIR"])
    return {"rows": found, "files": {p: p.read_bytes() for p in files_under(root)}}


def multipart(content: bytes = NEW_FILE) -> dict[str, Any]:
    return {
        "data": {"file": (io.BytesIO(content), "new.pdf", "application/pdf")},
        "content_type": "multipart/form-data",
    }


@dataclass
class World:
    """alice's task with one attachment, shared with bob (edit) and carol (view);
    dave sees nothing and owns a task of his own."""

    task_id: int
    attachment_id: int
    strangers_task_id: int
    accounts: dict[str, Account]


@pytest.fixture
def world(api: ApiClient) -> World:
    accounts = accounts_by_role(api)
    alice = accounts["owner"]
    task_id = api.post("/api/tasks", alice.token, json={"title": "Plan"}).get_json()["id"]
    share_by_role(api, accounts, task_id)
    attached = api.post(f"/api/tasks/{task_id}/attachments", alice.token, **multipart(SECRET))
    assert attached.status_code == 201, attached.get_json()
    dave = accounts["stranger"]
    daves_task = api.post("/api/tasks", dave.token, json={"title": "Mine"}).get_json()["id"]
    return World(task_id, attached.get_json()["id"], daves_task, accounts)


ROUTES: dict[str, tuple[str, str]] = {
    "upload": ("post", "/api/tasks/{task}/attachments"),
    "list": ("get", "/api/tasks/{task}/attachments"),
    "download": ("get", "/api/tasks/{task}/attachments/{attachment}"),
    "delete": ("delete", "/api/tasks/{task}/attachments/{attachment}"),
}
#: route -> status for (owner, edit, view, stranger)
MATRIX = Matrix(
    {
        "upload": (201, 201, 403, 404),
        "list": (200, 200, 200, 404),
        "download": (200, 200, 200, 404),
        "delete": (204, 204, 403, 404),
    }
)
READS = {"list", "download"}


def call(
    api: ApiClient,
    route: str,
    token: str | None,
    task_id: int,
    attachment_id: int,
) -> Any:
    method, template = ROUTES[route]
    path = template.format(task=task_id, attachment=attachment_id)
    kwargs = multipart() if route == "upload" else {}
    response = getattr(api, method)(path, token, **kwargs)
    response.get_data()
    response.close()  # a download holds the stored file open until its response closes
    return response


def call_as(api: ApiClient, world: World, role: str, route: str, task_id: int | None = None) -> Any:
    task = world.task_id if task_id is None else task_id
    return call(api, route, world.accounts[role].token, task, world.attachment_id)


# --- the matrix ----------------------------------------------------------------------


def test_matrix_covers_every_route_and_role() -> None:
    MATRIX.assert_covers(ROUTES)


@MATRIX.parametrize(MATRIX.refused)
def test_attachment_route_refused_role_returns_status_and_changes_nothing(
    api: ApiClient, app: Flask, world: World, route: str, role: str, status: int
) -> None:
    before = snapshot(app)

    response = call_as(api, world, role, route)

    problem = assert_problem(response, status)
    assert set(problem) >= {"type", "title", "status", "detail", "request_id"}
    assert b"secret plans" not in response.get_data()
    assert "Content-Disposition" not in response.headers
    assert "ETag" not in response.headers
    assert snapshot(app) == before


@MATRIX.parametrize(MATRIX.allowed)
def test_attachment_route_allowed_role_returns_status_and_writes_only_when_writing(
    api: ApiClient, app: Flask, world: World, route: str, role: str, status: int
) -> None:
    before = snapshot(app)

    response = call_as(api, world, role, route)

    assert response.status_code == status, response.get_data(as_text=True)
    after = snapshot(app)
    if route in READS:
        assert after == before
    elif route == "upload":
        assert len(after["rows"]) == len(before["rows"]) + 1
        assert sorted(after["files"].values()) == sorted([*before["files"].values(), NEW_FILE])
    else:
        assert after == {"rows": [], "files": {}}


@pytest.mark.parametrize("role", ["owner", "edit", "view"])
def test_download_by_reader_returns_the_exact_bytes_as_an_attachment(
    api: ApiClient, world: World, role: str
) -> None:
    response = call_as(api, world, role, "download")

    assert response.status_code == 200
    assert response.get_data() == SECRET
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("role", ["owner", "edit", "view"])
def test_list_by_reader_shows_the_attachment(api: ApiClient, world: World, role: str) -> None:
    response = call_as(api, world, role, "list")

    assert response.status_code == 200
    assert [a["id"] for a in response.get_json()["attachments"]] == [world.attachment_id]


@pytest.mark.parametrize("route", list(ROUTES))
def test_attachment_route_stranger_gets_the_same_404_as_for_a_missing_task(
    api: ApiClient, app: Flask, world: World, route: str
) -> None:
    before = snapshot(app)

    hidden = call_as(api, world, "stranger", route)
    missing = call_as(api, world, "owner", route, task_id=MISSING)

    assert_hidden_like_missing(hidden, missing, world.task_id, MISSING)
    assert snapshot(app) == before


@pytest.mark.parametrize("route", ["download", "delete"])
def test_attachment_route_stranger_cannot_tell_a_real_attachment_from_a_missing_one(
    api: ApiClient, world: World, route: str
) -> None:
    token = world.accounts["stranger"].token

    real = call(api, route, token, world.task_id, world.attachment_id)
    missing = call(api, route, token, world.task_id, MISSING)

    assert assert_problem(real, 404)["detail"] == assert_problem(missing, 404)["detail"]


@pytest.mark.parametrize("route", ["download", "delete"])
def test_attachment_route_through_strangers_own_task_returns_404_and_changes_nothing(
    api: ApiClient, app: Flask, world: World, route: str
) -> None:
    before = snapshot(app)

    response = call_as(api, world, "stranger", route, task_id=world.strangers_task_id)

    problem = assert_problem(response, 404)
    assert str(world.attachment_id) in problem["detail"]
    assert b"secret plans" not in response.get_data()
    assert snapshot(app) == before


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("token", [None, "not-a-jwt"], ids=["no-token", "bad-token"])
def test_attachment_route_without_valid_token_returns_401_and_changes_nothing(
    api: ApiClient, app: Flask, world: World, route: str, token: str | None
) -> None:
    before = snapshot(app)

    response = call(api, route, token, world.task_id, world.attachment_id)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"secret plans" not in response.get_data()
    assert snapshot(app) == before


# --- the roles in detail -------------------------------------------------------------


def test_upload_by_edit_sharee_records_them_as_uploader_on_the_owners_task(
    api: ApiClient, app: Flask, world: World
) -> None:
    bob = world.accounts["edit"]

    response = call_as(api, world, "edit", "upload")

    assert response.status_code == 201
    with app.app_context():
        stored = db.session.get(Attachment, response.get_json()["id"])
        assert stored is not None
        assert (stored.task_id, stored.user_id) == (world.task_id, bob.id)
    owners_list = call_as(api, world, "owner", "list").get_json()["attachments"]
    assert [a["id"] for a in owners_list] == [world.attachment_id, response.get_json()["id"]]


def test_delete_by_owner_of_an_edit_sharees_upload_removes_it(
    api: ApiClient, app: Flask, world: World
) -> None:
    bob, alice = world.accounts["edit"], world.accounts["owner"]
    path = f"/api/tasks/{world.task_id}/attachments"
    bobs = api.post(path, bob.token, **multipart(b"from bob")).get_json()["id"]

    response = api.delete(f"{path}/{bobs}", alice.token)

    assert response.status_code == 204
    assert list(snapshot(app)["files"].values()) == [SECRET]
    with app.app_context():
        assert db.session.get(Attachment, bobs) is None


def test_revoking_a_share_makes_the_attachment_404_at_once(
    api: ApiClient, app: Flask, world: World
) -> None:
    alice, carol = world.accounts["owner"], world.accounts["view"]
    assert call_as(api, world, "view", "download").status_code == 200

    revoked = api.delete(f"/api/tasks/{world.task_id}/share/{carol.id}", alice.token)
    response = call_as(api, world, "view", "download")

    assert revoked.status_code == 204
    assert_problem(response, 404)
    assert b"secret plans" not in response.get_data()


def test_downgrading_edit_to_view_makes_the_next_upload_403(
    api: ApiClient, app: Flask, world: World
) -> None:
    alice = world.accounts["owner"]
    downgraded = api.post(
        f"/api/tasks/{world.task_id}/share",
        alice.token,
        json={"username": "bob", "permission": "view"},
    )
    assert downgraded.status_code == 200
    before = snapshot(app)

    response = call_as(api, world, "edit", "upload")

    assert_problem(response, 403)
    assert snapshot(app) == before


def test_upgrading_view_to_edit_makes_the_next_delete_succeed(
    api: ApiClient, app: Flask, world: World
) -> None:
    alice = world.accounts["owner"]
    upgraded = api.post(
        f"/api/tasks/{world.task_id}/share",
        alice.token,
        json={"username": "carol", "permission": "edit"},
    )
    assert upgraded.status_code == 200

    response = call_as(api, world, "view", "delete")

    assert response.status_code == 204
    assert snapshot(app) == {"rows": [], "files": {}}
