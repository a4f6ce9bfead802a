"""``current_user``, the caller of an API route: its id comes from the token's check,
and the ``User`` is built only for a route that reads more of it (``auth.tokens``,
``LiveLogin``), with every column it reads as stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from doable.auth.models import User
from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import TIMESTAMP, Account, ApiClient


@pytest.fixture
def users_built() -> Iterator[Callable[[Callable[[], Any]], int]]:
    """How many ``User`` objects a call added to its session without reading their row
    (a kept login's caller, built from the username it keeps)."""
    built: list[object] = []

    def record(_: Session, instance: object) -> None:
        if isinstance(instance, User):
            built.append(instance)

    def count(call: Callable[[], Any]) -> int:
        built.clear()
        call()
        return len(built)

    event.listen(Session, "detached_to_persistent", record)
    yield count
    event.remove(Session, "detached_to_persistent", record)


def kept(api: ApiClient) -> Account:
    """An account whose login the app has checked once, and keeps."""
    account = api.account("alice")
    assert api.get("/api/me", account.token).status_code == 200
    return account


def test_a_call_reading_only_the_callers_id_builds_no_user(
    api: ApiClient, users_built: Callable[[Callable[[], Any]], int]
) -> None:
    account = kept(api)

    calls = users_built(lambda: api.get("/api/categories", account.token))

    assert calls == 0


def test_a_call_reading_the_whole_caller_gets_every_column_as_stored(
    api: ApiClient, app: Flask, users_built: Callable[[Callable[[], Any]], int]
) -> None:
    account = kept(api)
    responses: list[Any] = []

    calls = users_built(lambda: responses.append(api.get("/api/me", account.token)))

    assert calls == 1
    body = responses[0].get_json()
    assert body["id"] == account.id
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert TIMESTAMP.match(body["created_at"]), body["created_at"]


def test_a_kept_callers_change_is_written(api: ApiClient) -> None:
    account = kept(api)
    change = {"email": "alice@example.org", "current_password": account.password}

    assert api.patch("/api/me", account.token, json=change).status_code == 200

    assert api.get("/api/me", account.token).get_json()["email"] == "alice@example.org"


def test_a_kept_caller_handed_to_the_orm_by_a_write_is_written_as_owner(
    api: ApiClient, app: Flask
) -> None:
    """The flush that tags the new task reaches its owner, the caller, through it."""
    account = kept(api)

    response = api.post("/api/tasks", account.token, json={"title": "mine", "categories": ["home"]})

    assert response.status_code == 201, response.get_json()
    with app.app_context():
        task = db.session.get(Task, response.get_json()["id"])
        assert task is not None
        assert task.user_id == account.id
