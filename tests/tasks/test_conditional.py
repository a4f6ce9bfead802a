"""Conditional requests (docs/api.md, Tasks): ETag on every task response, 304 on a matching
If-None-Match, 412 on a stale If-Match, and no lost update when two writes race."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, Response
from werkzeug.test import EnvironBuilder

from doable.errors import ProblemType
from doable.extensions import db
from doable.tasks.models import Task
from doable.tasks.schemas import body_etag
from tests.support.factories import (
    PROBLEM_JSON,
    Account,
    ApiClient,
    assert_problem,
    at_once,
    stored_task,
)
from tests.support.sharing import post_share

STRONG_ETAG = re.compile(r'^"[^"]+"$')
RACE_ROUNDS = 10


# --- helpers -------------------------------------------------------------------------


@pytest.fixture
def task(api: ApiClient, alice: Account) -> dict[str, Any]:
    response = api.post(
        "/api/tasks", alice.token, json={"title": "Learn Flask", "due_date": "2026-01-10"}
    )
    assert response.status_code == 201
    return response.get_json()  # type: ignore[no-any-return]


def path_of(task: dict[str, Any]) -> str:
    return f"/api/tasks/{task['id']}"


def current_etag(api: ApiClient, alice: Account, task: dict[str, Any]) -> str:
    response = api.get(path_of(task), alice.token)
    assert response.status_code == 200
    return response.headers["ETag"]


def make_stale(api: ApiClient, alice: Account, task: dict[str, Any]) -> str:
    """Return an ETag that was current a moment ago, then change the task."""
    old = current_etag(api, alice, task)
    changed = api.patch(path_of(task), alice.token, json={"description": "changed elsewhere"})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != old
    return old


def assert_written(app: Flask, task: dict[str, Any], method: str, response: Any) -> None:
    """The write done by ``write`` went through: the task is renamed, or gone."""
    after = stored_task(app, task["id"])
    if method == "delete":
        assert response.status_code == 204
        assert after is None
    else:
        assert response.status_code == 200
        assert response.get_json()["title"] == "Renamed"
        assert after is not None
        assert after["title"] == "Renamed"


def write(api: ApiClient, method: str, path: str, token: str, **kwargs: Any) -> Any:
    if method != "delete":
        kwargs["json"] = {"title": "Renamed"}
    return getattr(api, method)(path, token, **kwargs)


# --- ETag on every response -------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch"])
def test_task_response_carries_a_strong_etag(
    api: ApiClient, alice: Account, task: dict[str, Any], method: str
) -> None:
    if method == "post":
        response = api.post("/api/tasks", alice.token, json={"title": "Another"})
    elif method == "get":
        response = api.get(path_of(task), alice.token)
    else:
        response = getattr(api, method)(path_of(task), alice.token, json={"title": "Renamed"})

    assert response.status_code in (200, 201)
    assert STRONG_ETAG.match(response.headers["ETag"])


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_write_response_etag_equals_the_next_gets(
    api: ApiClient, alice: Account, task: dict[str, Any], method: str
) -> None:
    if method == "post":
        response = api.post("/api/tasks", alice.token, json={"title": "Another"})
        path = f"/api/tasks/{response.get_json()['id']}"
    else:
        response = getattr(api, method)(path_of(task), alice.token, json={"title": "Renamed"})
        path = path_of(task)

    fetched = api.get(path, alice.token)

    assert fetched.get_json() == response.get_json()
    assert fetched.headers["ETag"] == response.headers["ETag"]


@pytest.mark.parametrize(
    ("created", "change"),
    [
        ([], {"categories": ["Work", "home"]}),
        (["Work", "Home"], {"categories": ["HOME", "garden"]}),
        (["Work"], {"categories": []}),
        (["Work", "Home"], {"priority": "high"}),
    ],
)
def test_write_answer_with_categories_equals_the_next_gets(
    api: ApiClient, alice: Account, created: list[str], change: dict[str, Any]
) -> None:
    """A write answers with the task as it wrote it, not read again: the categories it
    gave (or kept), in the case the owner's existing categories have, as a read sees."""
    api.post("/api/categories", alice.token, json={"name": "home"})
    response = api.post("/api/tasks", alice.token, json={"title": "T", "categories": created})
    path = path_of(response.get_json())
    assert api.get(path, alice.token).get_json() == response.get_json()

    response = api.put(path, alice.token, json=change)

    assert response.status_code == 200
    fetched = api.get(path, alice.token)
    assert fetched.get_json() == response.get_json()
    assert fetched.headers["ETag"] == response.headers["ETag"]


def test_an_editor_s_write_answers_with_their_access(
    api: ApiClient, alice: Account, bob: Account, task: dict[str, Any]
) -> None:
    shared = post_share(api, alice, task["id"], username="bob", permission="edit")
    assert shared.status_code in (200, 201), shared.get_json()

    response = api.put(path_of(task), bob.token, json={"title": "Bob's", "categories": ["B"]})

    assert response.status_code == 200
    assert response.get_json()["access"] == "edit"
    fetched = api.get(path_of(task), bob.token)
    assert fetched.get_json() == response.get_json()
    assert fetched.headers["ETag"] == response.headers["ETag"]


def test_etag_differs_between_tasks(api: ApiClient, alice: Account, task: dict[str, Any]) -> None:
    other = api.post("/api/tasks", alice.token, json={"title": "Learn Flask"})

    assert other.headers["ETag"] != current_etag(api, alice, task)


# --- If-None-Match ----------------------------------------------------------------------


def test_get_if_none_match_current_returns_304_with_empty_body(
    api: ApiClient, alice: Account, task: dict[str, Any]
) -> None:
    etag = current_etag(api, alice, task)

    response = api.get(path_of(task), alice.token, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag


def test_get_if_none_match_weak_form_of_current_returns_304(
    api: ApiClient, alice: Account, task: dict[str, Any]
) -> None:
    etag = current_etag(api, alice, task)

    response = api.get(path_of(task), alice.token, headers={"If-None-Match": f"W/{etag}"})

    assert response.status_code == 304
    assert response.get_data() == b""


def test_get_if_none_match_among_several_returns_304(
    api: ApiClient, alice: Account, task: dict[str, Any]
) -> None:
    etag = current_etag(api, alice, task)

    response = api.get(
        path_of(task), alice.token, headers={"If-None-Match": f'"other", {etag}, "more"'}
    )

    assert response.status_code == 304


def test_get_if_none_match_unknown_returns_200_with_body(
    api: ApiClient, alice: Account, task: dict[str, Any]
) -> None:
    response = api.get(path_of(task), alice.token, headers={"If-None-Match": '"nope"'})

    assert response.status_code == 200
    assert response.get_json() == task


#: Conditional headers on a GET, ``{etag}`` standing for the task's current ETag.
GET_CONDITIONS = {
    "none": {},
    "if-none-match current": {"If-None-Match": "{etag}"},
    "if-none-match weak": {"If-None-Match": "W/{etag}"},
    "if-none-match other": {"If-None-Match": '"other"'},
    "if-none-match any": {"If-None-Match": "*"},
    "if-match current": {"If-Match": "{etag}"},
    "if-match other": {"If-Match": '"other"'},
    "both current": {"If-None-Match": "{etag}", "If-Match": "{etag}"},
    "none-match current, if-match other": {"If-None-Match": "{etag}", "If-Match": '"other"'},
}


@pytest.mark.parametrize("condition", list(GET_CONDITIONS.values()), ids=list(GET_CONDITIONS))
def test_get_answers_conditions_as_werkzeug_make_conditional_does(
    api: ApiClient, alice: Account, task: dict[str, Any], condition: dict[str, str]
) -> None:
    """The route compares ETags itself (``_task_response``), not through
    ``make_conditional``: the same answers, whatever the headers."""
    etag = current_etag(api, alice, task)
    headers = {name: value.format(etag=etag) for name, value in condition.items()}

    response = api.get(path_of(task), alice.token, headers=headers)

    expected = Response(b"{}")
    expected.set_etag(etag.strip('"'))
    expected.make_conditional(EnvironBuilder(method="GET", headers=headers).get_environ())
    assert response.status_code == expected.status_code
    assert response.headers["ETag"] == etag
    assert response.get_data() == (b"" if response.status_code == 304 else task_bytes(response))


def task_bytes(response: Any) -> bytes:
    """The body of a response that carries the task (it is its own ETag's input)."""
    assert response.headers["ETag"] == f'"{body_etag(response.get_data())}"'
    return response.get_data()  # type: ignore[no-any-return]


CHANGES = {
    "title": {"title": "Build API"},
    "description": {"description": "REST"},
    "status": {"status": "completed"},
    "priority": {"priority": "high"},
    "due_date": {"due_date": "2026-02-01"},
    "due_date-null": {"due_date": None},
}


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
def test_get_if_none_match_after_a_change_returns_200_with_new_etag(
    api: ApiClient, alice: Account, task: dict[str, Any], change: dict[str, Any]
) -> None:
    old = current_etag(api, alice, task)
    changed = api.patch(path_of(task), alice.token, json=change)
    assert changed.status_code == 200

    response = api.get(path_of(task), alice.token, headers={"If-None-Match": old})

    assert response.status_code == 200
    assert response.headers["ETag"] != old
    assert response.headers["ETag"] == changed.headers["ETag"]
    name = next(iter(change))
    assert response.get_json()[name] == change[name]


def test_get_if_none_match_of_another_users_task_returns_404(
    api: ApiClient, alice: Account, task: dict[str, Any]
) -> None:
    etag = current_etag(api, alice, task)
    bob = api.account("bob")

    response = api.get(path_of(task), bob.token, headers={"If-None-Match": etag})

    assert_problem(response, 404)


# --- If-Match -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_stale_if_match_returns_412_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any], method: str
) -> None:
    stale = make_stale(api, alice, task)
    before = stored_task(app, task["id"])

    response = write(api, method, path_of(task), alice.token, headers={"If-Match": stale})

    problem = assert_problem(response, 412)
    assert problem["title"] == "Precondition Failed"
    assert stored_task(app, task["id"]) == before


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_weak_if_match_returns_412(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any], method: str
) -> None:
    weak = f"W/{current_etag(api, alice, task)}"
    before = stored_task(app, task["id"])

    response = write(api, method, path_of(task), alice.token, headers={"If-Match": weak})

    assert_problem(response, 412)
    assert stored_task(app, task["id"]) == before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_update_current_if_match_returns_200_and_stores_the_change(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any], method: str
) -> None:
    etag = current_etag(api, alice, task)

    response = write(api, method, path_of(task), alice.token, headers={"If-Match": etag})

    assert response.status_code == 200
    assert response.get_json()["title"] == "Renamed"
    assert response.headers["ETag"] != etag
    assert stored_task(app, task["id"])["title"] == "Renamed"  # type: ignore[index]


def test_delete_current_if_match_returns_204_and_removes_it(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any]
) -> None:
    etag = current_etag(api, alice, task)

    response = api.delete(path_of(task), alice.token, headers={"If-Match": etag})

    assert response.status_code == 204
    assert stored_task(app, task["id"]) is None


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_current_if_match_among_several_succeeds(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any], method: str
) -> None:
    etag = current_etag(api, alice, task)

    response = write(
        api, method, path_of(task), alice.token, headers={"If-Match": f'"other", {etag}'}
    )

    assert_written(app, task, method, response)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_if_match_star_succeeds(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any], method: str
) -> None:
    response = write(api, method, path_of(task), alice.token, headers={"If-Match": "*"})

    assert_written(app, task, method, response)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_write_without_if_match_goes_ahead_even_after_a_change(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any], method: str
) -> None:
    make_stale(api, alice, task)

    response = write(api, method, path_of(task), alice.token)

    assert_written(app, task, method, response)


def test_update_with_the_etag_a_write_returned_succeeds(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any]
) -> None:
    first = api.patch(path_of(task), alice.token, json={"title": "One"})

    second = api.patch(
        path_of(task),
        alice.token,
        json={"title": "Two"},
        headers={"If-Match": first.headers["ETag"]},
    )

    assert second.status_code == 200
    assert stored_task(app, task["id"])["title"] == "Two"  # type: ignore[index]


# --- the race -----------------------------------------------------------------------------


def race_once(app: Flask, alice: Account, path: str, etag: str, titles: list[str]) -> list[Any]:
    """PATCH from two threads at once, each with its own client and the same If-Match."""
    headers = {**alice.auth, "If-Match": etag}
    return at_once(
        app,
        lambda client, n: client.patch(path, headers=headers, json={"title": titles[n]}),
        len(titles),
    )


def test_concurrent_patches_with_same_if_match_exactly_one_wins(
    api: ApiClient, app: Flask, alice: Account, task: dict[str, Any]
) -> None:
    for round_ in range(RACE_ROUNDS):
        etag = current_etag(api, alice, task)
        version = stored_task(app, task["id"])["version"]  # type: ignore[index]
        titles = [f"round {round_} by A", f"round {round_} by B"]

        results = race_once(app, alice, path_of(task), etag, titles)

        statuses = sorted(response.status_code for response in results)
        assert statuses == [200, 412], [r.get_data(as_text=True) for r in results]
        winner = next(n for n, response in enumerate(results) if response.status_code == 200)
        loser = results[1 - winner]
        assert loser.mimetype == PROBLEM_JSON
        assert results[winner].get_json()["title"] == titles[winner]
        after = stored_task(app, task["id"])
        assert after is not None
        assert after["title"] == titles[winner]
        assert after["version"] == version + 1


def test_update_writes_the_task_row_exactly_once(
    api: ApiClient, app: Flask, statements: list[str]
) -> None:
    """Regression: restoring the caller's access after commit used to dirty the task,
    so the next query flushed a second UPDATE (and a 500 when a racing write won)."""
    owner = api.account("writer")
    task_id = api.post("/api/tasks", owner.token, json={"title": "once"}).json["id"]
    statements.clear()
    response = api.patch(f"/api/tasks/{task_id}", owner.token, json={"status": "completed"})
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE TASK")]
    with app.app_context():
        version = db.session.scalar(sa.select(Task.version).where(Task.id == task_id))
    assert response.status_code == 200
    assert len(updates) == 1
    assert version == 2


# Found by schemathesis (tests/test_fuzz.py).
@pytest.mark.parametrize("sent", ["", '"not-the-etag"'])
def test_an_if_match_that_is_empty_or_stale_is_412_and_changes_nothing(
    app, api: ApiClient, alice, sent
):
    """With If-Match declared, schemathesis sent an empty one: no listed ETag is current,
    so the condition is false (412), rather than the header being taken as absent."""
    task = api.post("/api/tasks", alice.token, json={"title": "before"}).json
    response = api.patch(
        f"/api/tasks/{task['id']}", alice.token, json={"title": "after"}, headers={"If-Match": sent}
    )
    assert assert_problem(response, 412)["type"] == ProblemType.PRECONDITION_FAILED.uri
    assert stored_task(app, task["id"])["title"] == "before"
