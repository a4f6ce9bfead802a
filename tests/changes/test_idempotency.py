"""``Idempotency-Key`` on writes (docs/api.md, Change feed): a retry gets the first
response again and changes nothing more; the same key for another request is 422; a
request that changed nothing keeps nothing; two requests with one key at once still
make the change once (threads on one app, and on PostgreSQL two ``doable serve``)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from doable.auth.models import User
from doable.changes.idempotency import fingerprint
from doable.changes.models import Change, IdempotentRequest
from doable.changes.service import prune
from doable.db import utcnow
from doable.extensions import db
from doable.tasks.models import Task
from doable.unit_of_work import claim, stage, use_case
from tests.support.factories import (
    Account,
    ApiClient,
    assert_problem,
    at_once,
    share,
    stored_task,
)
from tests.support.realtime import new_user
from tests.support.servers import running_server, server_env

PROBLEMS = "tag:doable.dev,2026:problems/"
KEPT = ("Content-Type", "ETag", "Location")


def keyed(account: Account, key: str, **headers: str) -> dict[str, str]:
    return {**account.auth, "Idempotency-Key": key, **headers}


def new_key() -> str:
    return str(uuid.uuid4())


def count(app: Flask, statement: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(statement) or 0)


def tasks_of(app: Flask, account: Account) -> int:
    return count(app, select(func.count()).select_from(Task).where(Task.user_id == account.id))


def changes_of(app: Flask, task_id: int) -> list[str]:
    with app.app_context():
        query = select(Change.action).where(Change.task_id == task_id).order_by(Change.id)
        return list(db.session.scalars(query))


def kept_rows(app: Flask) -> int:
    return count(app, select(func.count()).select_from(IdempotentRequest))


def assert_replayed(first: Any, again: Any) -> None:
    """``again`` is ``first`` answered again: same status, body and kept headers."""
    assert again.status_code == first.status_code, again.get_data(as_text=True)
    assert again.get_data() == first.get_data()
    for name in KEPT:
        assert again.headers.get(name) == first.headers.get(name), name
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_a_retried_create_gets_the_first_answer_and_creates_one_task(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    key = new_key()
    first = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Once"})
    again = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Once"})

    assert first.status_code == 201
    assert first.headers["Location"].endswith(f"/api/tasks/{first.get_json()['id']}")
    assert first.headers["ETag"]
    assert_replayed(first, again)
    assert tasks_of(app, alice) == 1
    assert changes_of(app, first.get_json()["id"]) == ["created"]
    feed = api.get("/api/events", alice.token).get_json()["events"]
    assert [event["action"] for event in feed] == ["created"]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_retried_update_is_answered_again_not_refused_by_its_own_if_match(
    api: ApiClient, app: Flask, alice: Account, method: str
) -> None:
    task_id = api.post("/api/tasks", alice.token, json={"title": "Draft"}).get_json()["id"]
    etag = api.get(f"/api/tasks/{task_id}", alice.token).headers["ETag"]
    headers = keyed(alice, new_key(), **{"If-Match": etag})

    def send() -> Any:
        return api.client.open(
            f"/api/tasks/{task_id}", method=method, headers=headers, json={"title": "Final"}
        )

    first, again = send(), send()

    assert first.status_code == 200
    assert_replayed(first, again)  # not 412: the If-Match it sent is no longer current
    assert changes_of(app, task_id) == ["created", "updated"]


def test_a_retried_delete_is_answered_204_again_not_404(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task_id = api.post("/api/tasks", alice.token, json={"title": "Bin"}).get_json()["id"]
    headers = keyed(alice, new_key())

    first = api.client.delete(f"/api/tasks/{task_id}", headers=headers)
    again = api.client.delete(f"/api/tasks/{task_id}", headers=headers)

    assert first.status_code == 204
    assert_replayed(first, again)
    assert stored_task(app, task_id) is None
    assert changes_of(app, task_id) == ["created", "deleted"]


def test_a_retried_share_and_upload_are_made_once(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    task_id = api.post("/api/tasks", alice.token, json={"title": "Shared"}).get_json()["id"]
    share_key, upload_key = new_key(), new_key()
    body = {"username": bob.username, "permission": "edit"}
    shared = [
        api.client.post(f"/api/tasks/{task_id}/share", headers=keyed(alice, share_key), json=body)
        for _ in range(2)
    ]
    # A client building the form again sends a new boundary: still the same request.
    uploads = [
        api.client.post(
            f"/api/tasks/{task_id}/attachments",
            headers=keyed(alice, upload_key),
            data={"file": (io.BytesIO(b"%PDF-1.4 same"), "same.pdf", "application/pdf")},
            content_type="multipart/form-data",
        )
        for _ in range(2)
    ]

    assert shared[0].status_code == 201
    assert_replayed(*shared)
    unshared = [  # a route with a ``user_id`` of its own
        api.client.delete(f"/api/tasks/{task_id}/share/{bob.id}", headers=keyed(alice, key))
        for key in (share_key + "-off",) * 2
    ]
    assert unshared[0].status_code == 204
    assert_replayed(*unshared)
    assert uploads[0].status_code == 201, uploads[0].get_json()
    assert_replayed(*uploads)
    listed = api.get(f"/api/tasks/{task_id}/attachments", alice.token).get_json()
    assert len(listed["attachments"]) == 1
    assert changes_of(app, task_id) == ["created", "shared", "attachment_added", "unshared"]


def test_the_same_key_for_another_request_is_422_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    key = new_key()
    first = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Kept"})
    task_id = first.get_json()["id"]
    others = [
        api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Other"}),
        api.client.post("/api/tasks?x=1", headers=keyed(alice, key), json={"title": "Kept"}),
        api.client.patch(f"/api/tasks/{task_id}", headers=keyed(alice, key), json={"title": "X"}),
        api.client.delete(f"/api/tasks/{task_id}", headers=keyed(alice, key)),
    ]

    for response in others:
        body = assert_problem(response, 422)
        assert body["type"] == PROBLEMS + "idempotency-key-reused"
    assert tasks_of(app, alice) == 1
    assert stored_task(app, task_id)["title"] == "Kept"  # type: ignore[index]
    assert changes_of(app, task_id) == ["created"]
    again = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Kept"})
    assert_replayed(first, again)


def test_keys_are_per_user(api: ApiClient, app: Flask, alice: Account, bob: Account) -> None:
    key = new_key()
    for_alice = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Mine"})
    for_bob = api.client.post("/api/tasks", headers=keyed(bob, key), json={"title": "Mine"})

    assert for_alice.status_code == for_bob.status_code == 201
    assert "Idempotent-Replayed" not in for_bob.headers
    assert for_alice.get_json()["id"] != for_bob.get_json()["id"]
    assert tasks_of(app, alice) == tasks_of(app, bob) == 1


@pytest.mark.parametrize("key", ["", " ", "two words", "x" * 256, "caf\xe9", "tab\there"], ids=repr)
def test_a_malformed_key_is_400_naming_the_header_and_changes_nothing(
    api: ApiClient, app: Flask, alice: Account, key: str
) -> None:
    response = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "No"})

    body = assert_problem(response, 400)
    assert body["type"] == PROBLEMS + "invalid-input"
    assert list(body["errors"]) == ["Idempotency-Key"]
    assert tasks_of(app, alice) == 0


def test_the_longest_key_is_taken(api: ApiClient, alice: Account) -> None:
    key = "~" * 255
    first = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Long"})
    again = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Long"})
    assert first.status_code == 201
    assert_replayed(first, again)


def test_a_refused_request_keeps_nothing_so_its_fixed_retry_applies(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    key = new_key()
    invalid = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": ""})
    missing = api.client.patch("/api/tasks/999999", headers=keyed(alice, key), json={"title": "T"})
    fixed = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Fixed"})

    assert_problem(invalid, 400)
    assert_problem(missing, 404)
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert tasks_of(app, alice) == 1
    # A refusal after a write that committed nothing of its own (an upload's access
    # check commits first): nothing kept either.
    task_id = fixed.get_json()["id"]
    share(api, alice, task_id, bob, "view")
    upload_key = new_key()
    refused = api.client.post(
        f"/api/tasks/{task_id}/attachments",
        headers=keyed(alice, upload_key),
        data={"file": (io.BytesIO(b""), "empty.txt", "text/plain")},
        content_type="multipart/form-data",
    )
    assert_problem(refused, 400)
    assert kept_rows(app) == 1  # the create's, not the upload's


def test_a_key_whose_first_request_is_not_answered_yet_is_409_in_use(
    make_app: Any, alice_on: Any
) -> None:
    app = make_app(RATELIMIT_ENABLED=True)  # the limiter sets its own Retry-After: ours stays
    api, alice = alice_on(app)
    key, body = new_key(), b'{"title": "Wait"}'
    with app.test_request_context("/api/tasks", method="POST", data=body):
        same = fingerprint()
    with app.app_context():  # what a first request leaves between its commit and its answer
        db.session.add(
            IdempotentRequest(user_id=alice.id, key=key, fingerprint=same, created_at=utcnow())
        )
        db.session.commit()

    response = api.client.post(
        "/api/tasks", headers=keyed(alice, key), data=body, content_type="application/json"
    )

    body = assert_problem(response, 409)
    assert body["type"] == PROBLEMS + "idempotency-key-in-use"
    assert response.headers["Retry-After"] == "1"
    assert tasks_of(app, alice) == 0


@pytest.fixture
def alice_on() -> Any:
    def register(app: Flask) -> tuple[ApiClient, Account]:
        api = ApiClient(app.test_client())
        return api, api.account()

    return register


def test_an_expired_key_no_longer_answers_and_is_pruned(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    key = new_key()
    first = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Old"})
    with app.app_context():
        old = utcnow() - timedelta(hours=24, seconds=1)
        db.session.execute(update(IdempotentRequest).values(created_at=old))
        db.session.commit()

    again = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Old"})
    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]  # a new request: applied
    third = api.client.post("/api/tasks", headers=keyed(alice, key), json={"title": "Old"})
    assert_replayed(again, third)  # the key was taken over by the second
    assert tasks_of(app, alice) == 2

    with app.app_context():
        db.session.execute(update(IdempotentRequest).values(created_at=old))
        db.session.commit()
        assert prune() == (0, 1)
    assert kept_rows(app) == 0


def test_reads_and_account_routes_keep_nothing(api: ApiClient, app: Flask, alice: Account) -> None:
    key = new_key()
    assert api.client.get("/api/tasks", headers=keyed(alice, key)).status_code == 200
    assert api.client.get("/api/tasks", headers=keyed(alice, "bad key")).status_code == 200
    assert api.client.post("/api/logout", headers=keyed(alice, key)).status_code == 204
    assert kept_rows(app) == 0


RACERS = 4


def test_two_requests_with_one_key_at_once_make_the_change_once(app: Flask, alice: Account) -> None:
    for n in range(5):
        assert_once(create_at_once(app, alice, new_key(), f"Race {n}"))
    assert tasks_of(app, alice) == 5


def create_at_once(app: Flask, account: Account, key: str, title: str) -> list[Any]:
    """``RACERS`` creates with one key, each from its own thread and connection, at once."""
    headers, body = keyed(account, key), {"title": title}
    return at_once(
        app, lambda client, _: client.post("/api/tasks", headers=headers, json=body), RACERS
    )


def assert_once(results: list[Any]) -> None:
    """One request made the change (201); each other one got its answer again, or was
    told to wait for it (409 in use)."""
    first = [r for r in results if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    assert len(first) == 1, [(r.status_code, r.headers.get("Idempotent-Replayed")) for r in results]
    for response in results:
        if response is first[0]:
            continue
        if response.status_code == 409:
            assert response.headers["Retry-After"] == "1"
            assert json.loads(_body(response))["type"] == PROBLEMS + "idempotency-key-in-use"
        else:
            assert response.status_code == 201
            assert response.headers["Idempotent-Replayed"] == "true"
            assert _body(response) == _body(first[0])


def _body(response: Any) -> bytes:
    data = getattr(response, "content", None)
    return data if data is not None else response.get_data()  # type: ignore[no-any-return]


def test_two_servers_answering_one_key_at_once_make_the_change_once(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("two processes on one SQLite file take turns anyway: threads cover it")
    env = server_env(database_url, tmp_path, DOABLE_RATELIMIT_ENABLED="false")
    with (
        running_server(env, log_path=tmp_path / "a.log") as first,
        running_server(env, log_path=tmp_path / "b.log") as second,
    ):
        user = new_user(first, prefix="idem")
        for n in range(5):
            assert_once(create_over_http(app, user, (first, second), new_key(), f"Race {n}"))
        with app.app_context():
            query = select(func.count()).select_from(Task).where(Task.user_id == user.id)
            assert db.session.scalar(query) == 5


def create_over_http(
    app: Flask, user: Account, bases: tuple[str, str], key: str, title: str
) -> list[Any]:
    """``RACERS`` creates with one key, sent at once to the servers in turn, over HTTP
    (``at_once``'s threads; its test clients go unused)."""

    def send(_: Any, n: int) -> _Http:
        headers, body = {"Idempotency-Key": key}, {"title": title}
        base = bases[n % len(bases)]
        return _Http(user.call("POST", "/api/tasks", base=base, headers=headers, json=body))

    return at_once(app, send, RACERS)


class _Http:
    """A ``requests`` response, read as ``assert_once`` reads a test client's."""

    def __init__(self, response: Any) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = response.content


def test_a_page_on_an_allowed_origin_may_send_the_key_and_read_the_replay(
    make_app: Any, alice_on: Any
) -> None:
    origin = "https://tasks.example.com"
    app = make_app(CORS_ORIGINS=origin)
    api, alice = alice_on(app)
    preflight = api.client.options(
        "/api/tasks",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key",
        },
    )
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    headers = keyed(alice, new_key(), Origin=origin)
    api.client.post("/api/tasks", headers=headers, json={"title": "Cross"})
    again = api.client.post("/api/tasks", headers=headers, json={"title": "Cross"})
    assert "Idempotent-Replayed" in again.headers["Access-Control-Expose-Headers"]


def test_the_document_declares_the_key_on_every_write_that_takes_a_token(
    spec: dict[str, Any],
) -> None:
    declared = {
        (method, path): any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", []))
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }
    secured = {
        (method, path)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"post", "put", "patch", "delete"} and op["security"]
    }
    assert {operation for operation, has in declared.items() if has} == secured
    assert ("post", "/api/tasks") in secured
    assert ("post", "/api/login") not in secured
    for method, path in secured:
        responses = spec["paths"][path][method]["responses"]
        assert {"409", "422"} <= set(responses), (method, path)


class _Counted:
    """A claim that counts its writes (``doable.unit_of_work.claim``)."""

    def __init__(self) -> None:
        self.committed = False
        self.writes = 0

    def write(self) -> None:
        self.writes += 1


def test_a_claim_rides_with_the_change_across_attempts_and_never_with_a_mere_check(
    app: Flask, alice: Account, bob: Account
) -> None:
    attempts: list[str] = []

    @use_case
    def check() -> None:  # commits, changes nothing: an upload's access check
        db.session.get(User, alice.id)

    @use_case(retry=2)
    def change() -> None:
        user = db.session.get(User, alice.id)
        assert user is not None
        user.email = bob.email if not attempts else "alice@new.example.com"  # first: taken
        attempts.append(user.email)
        stage(lambda items: None, "a change")  # the taken email is refused at the commit

    counted = _Counted()
    with app.test_request_context():
        claim(counted)
        check()
        assert (counted.writes, counted.committed) == (0, False)
        change()

    assert len(attempts) == 2
    assert (counted.writes, counted.committed) == (2, True)  # once an attempt, kept once
