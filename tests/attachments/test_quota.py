"""The per-owner storage quota (docs/api.md, Attachments): counted over every task of
the owner, whoever uploads."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.support.attachments import (
    attachments_path,
    files_under,
    new_task,
    rows,
    upload,
    upload_dir,
    uploaded,
)
from tests.support.factories import ApiClient, assert_problem, share

# --- quota -------------------------------------------------------------------------------


@pytest.fixture
def quota_app(make_app: Any) -> Flask:
    return make_app(USER_QUOTA=100)  # type: ignore[no-any-return]


@pytest.fixture
def quota_api(quota_app: Flask) -> ApiClient:
    return ApiClient(quota_app.test_client())


def test_upload_filling_the_quota_exactly_is_accepted(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice = quota_api.account("alice")
    task = new_task(quota_api, alice)
    uploaded(quota_api, alice.token, task, content=b"a" * 60)

    response = upload(quota_api, alice.token, task, content=b"b" * 40)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert sum(r["size"] for r in rows(quota_app)) == 100


def test_upload_over_quota_returns_413_with_detail_and_stores_nothing(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice = quota_api.account("alice")
    task = new_task(quota_api, alice)
    uploaded(quota_api, alice.token, task, content=b"a" * 60)
    before_rows, before_files = rows(quota_app), files_under(upload_dir(quota_app))

    response = upload(quota_api, alice.token, task, content=b"b" * 41)

    problem = assert_problem(response, 413)
    assert "quota" in problem["detail"].lower()
    assert "100" in problem["detail"]
    assert rows(quota_app) == before_rows
    assert files_under(upload_dir(quota_app)) == before_files


def test_upload_quota_counts_every_task_of_the_owner(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice = quota_api.account("alice")
    first, second = new_task(quota_api, alice, "One"), new_task(quota_api, alice, "Two")
    uploaded(quota_api, alice.token, first, content=b"a" * 60)

    response = upload(quota_api, alice.token, second, content=b"b" * 41)

    assert_problem(response, 413)
    assert len(rows(quota_app)) == 1
    assert len(files_under(upload_dir(quota_app))) == 1


def test_upload_by_edit_sharee_counts_against_the_owners_quota(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice, bob = quota_api.account("alice"), quota_api.account("bob")
    task = new_task(quota_api, alice)
    share(quota_api, alice, task, bob, "edit")
    uploaded(quota_api, bob.token, task, content=b"b" * 60)

    by_owner = upload(quota_api, alice.token, task, content=b"a" * 41)
    by_sharee = upload(quota_api, bob.token, task, content=b"b" * 41)

    assert "quota" in assert_problem(by_owner, 413)["detail"].lower()
    assert "quota" in assert_problem(by_sharee, 413)["detail"].lower()
    assert [(r["user_id"], r["size"]) for r in rows(quota_app)] == [(bob.id, 60)]
    assert len(files_under(upload_dir(quota_app))) == 1


def test_upload_by_edit_sharee_to_own_task_uses_their_own_quota(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice, bob = quota_api.account("alice"), quota_api.account("bob")
    alices_task = new_task(quota_api, alice)
    share(quota_api, alice, alices_task, bob, "edit")
    uploaded(quota_api, bob.token, alices_task, content=b"b" * 90)
    bobs_task = new_task(quota_api, bob, "Bob's")

    response = upload(quota_api, bob.token, bobs_task, content=b"c" * 90)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(rows(quota_app)) == 2


def test_upload_after_deleting_an_attachment_has_the_quota_back(
    quota_app: Flask, quota_api: ApiClient
) -> None:
    alice = quota_api.account("alice")
    task = new_task(quota_api, alice)
    first = uploaded(quota_api, alice.token, task, content=b"a" * 80)
    deleted = quota_api.delete(attachments_path(task, first["id"]), alice.token)
    assert deleted.status_code == 204

    response = upload(quota_api, alice.token, task, content=b"b" * 80)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert [r["size"] for r in rows(quota_app)] == [80]
