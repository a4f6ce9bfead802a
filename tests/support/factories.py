"""Test data and a small JSON client over Flask's test client; the one account type and
the one password every test user has."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from doable.errors import ProblemType

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
HTTP_WAIT = 5.0  # the longest one HTTP call to a real server may take
PROBLEM_TYPES = {kind.uri: kind for kind in ProblemType}
PROBLEM_JSON = "application/problem+json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
#: An id far beyond any row, and beyond a 64-bit integer.
HUGE_ID = "99999999999999999999"
_counter = itertools.count(1)


@dataclass
class Account:
    """A registered, logged-in user; ``base`` is the server it lives on when the test
    talks to a real ``doable serve`` over HTTP (empty for Flask's test client)."""

    id: int
    username: str
    email: str
    password: str
    token: str
    refresh_token: str
    base: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, *, base: str | None = None, **kwargs: Any) -> Any:
        """``method path`` on the real server as this user, over HTTP."""
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{base or self.base}{path}", headers=headers, timeout=HTTP_WAIT, **kwargs
        )


class ApiClient:
    """Calls the API the way a client would, with helpers for the usual set-up."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, username: str | None = None, **fields: Any) -> TestResponse:
        n = next(_counter)
        username = username or f"user{n}"
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        body.update(fields)
        return self.client.post("/api/register", json=body)

    def login(self, **body: Any) -> TestResponse:
        return self.client.post("/api/login", json=body)

    def account(self, username: str | None = None, password: str = PASSWORD) -> Account:
        """Register and log in a user; return its ids and tokens."""
        name = username or f"user{next(_counter)}"
        registered = self.register(name, password=password)
        assert registered.status_code == 201, registered.json
        user_id = registered.json["user_id"]
        me = self.client.post("/api/login", json={"username": name, "password": password})
        assert me.status_code == 200, me.json
        return Account(
            id=user_id,
            username=name,
            email=f"{name}@example.com",
            password=password,
            token=me.json["token"],
            refresh_token=me.json["refresh_token"],
        )

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.client.get(path, headers=self._auth(token, kwargs), **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.client.post(path, headers=self._auth(token, kwargs), **kwargs)

    def patch(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.client.patch(path, headers=self._auth(token, kwargs), **kwargs)

    def put(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.client.put(path, headers=self._auth(token, kwargs), **kwargs)

    def delete(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.client.delete(path, headers=self._auth(token, kwargs), **kwargs)

    @staticmethod
    def _auth(token: str | None, kwargs: dict[str, Any]) -> dict[str, str]:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers


def share(api: ApiClient, owner: Account, task_id: int, other: Account, permission: str) -> None:
    """``owner`` shares the task with ``other``, which must succeed."""
    response = api.post(
        f"/api/tasks/{task_id}/share",
        owner.token,
        json={"username": other.username, "permission": permission},
    )
    assert response.status_code == 201, response.get_json()


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The response is a Problem Details document for ``status``; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert_problem_type(body)
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body  # type: ignore[no-any-return]


def assert_problem_type(body: dict[str, Any]) -> None:
    """``type`` is one of the documented kinds and of the body's status, or
    ``about:blank`` for a status with no kind of its own."""
    kind = body["type"]
    if kind == "about:blank":
        assert ProblemType.for_status(body["status"]) is None, body
    else:
        assert PROBLEM_TYPES[kind].status == body["status"], body


PRIORITY_RANK = {"low": 1, "medium": 2, "high": 3}


def expected_order(rows: list[Any], sort: str) -> list[Any]:
    """An independent statement of the list order: the sort key (priority by rank, title
    ignoring case), ties by id in the same direction, tasks without a due date last."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "due_date":
        dated = sorted(
            (row for row in rows if row.due_date is not None),
            key=lambda row: (row.due_date, row.id),
            reverse=descending,
        )
        undated = sorted(
            (row for row in rows if row.due_date is None),
            key=lambda row: row.id,
            reverse=descending,
        )
        return dated + undated
    value: Callable[[Any], Any] = {
        "created_at": lambda row: row.created_at,
        "updated_at": lambda row: row.updated_at,
        "priority": lambda row: PRIORITY_RANK[row.priority],
        "title": lambda row: row.title.lower(),
    }[key]
    return sorted(rows, key=lambda row: (value(row), row.id), reverse=descending)


def stored_task(app: Flask, task_id: int) -> dict[str, Any] | None:
    """The task's row, read straight from the database."""
    from doable.extensions import db
    from doable.tasks.models import Task

    with app.app_context():
        task = db.session.get(Task, task_id)
        if task is None:
            return None
        return {
            "user_id": task.user_id,
            "title": task.title,
            "description": task.description,
            "status": task.status,
            "priority": int(task.priority),
            "due_date": task.due_date,
            "version": task.version,
            "created_at": task.created_at,
            "updated_at": task.updated_at,
            "due_time": task.due_time,
            "timezone": task.timezone,
            "due_at": task.due_at,
            "recurrence_rule": task.recurrence_rule,
            "recurrence_mode": task.recurrence_mode,
            "recurrence_anchor": task.recurrence_anchor,
            "reminders": task.reminders,
        }


def at_once(app: Flask, send: Callable[[Any, int], Any], count: int) -> list[Any]:
    """Call ``send(client, n)`` for n < ``count``, each from its own thread with its own
    test client (and database connection), all released together; their results."""
    barrier = threading.Barrier(count, timeout=10)
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        results[n] = send(client, n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a concurrent request hung"
    return results
