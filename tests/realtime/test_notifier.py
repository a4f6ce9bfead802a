"""The notifier in one process, with Flask-SocketIO's test client on the real server
object: what only an in-process test can arrange, such as a transaction that fails.
Events leave through the process's background queue: ``sent(app)`` waits for it."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from doable import signals
from doable.changes.log import Committed, Recorded
from doable.config import ConfigError
from doable.extensions import db
from doable.realtime.fanout import fanout
from doable.realtime.notifier import send_changes
from doable.realtime.registry import RedisRegistry
from tests.support.realtime import sent
from tests.support.servers import free_port


def socket_for(app, account):
    """A socket of ``account``'s, opened once the events of earlier changes are sent."""
    sent(app)
    client = app.extensions["socketio"].test_client(app, auth={"token": account.token})
    assert client.is_connected()
    return client


def task_shared_with(api, owner, sharee, title: str) -> dict:
    task = api.post("/api/tasks", owner.token, json={"title": title}).json
    body = {"username": sharee.username, "permission": "view"}
    assert api.post(f"/api/tasks/{task['id']}/share", owner.token, json=body).status_code == 201
    return task


def names(client) -> list[str]:
    return [message["name"] for message in client.get_received()]


def received(app, client) -> list[tuple[str, dict]]:
    sent(app)
    return [(message["name"], message["args"][0]) for message in client.get_received()]


def test_a_rolled_back_delete_emits_nothing_and_keeps_the_task(app, api, alice, bob):
    task = task_shared_with(api, alice, bob, "Keep me")
    to_alice, to_bob = socket_for(app, alice), socket_for(app, bob)

    def fail(session, flush_context, instances):
        raise RuntimeError("disk on fire")

    event.listen(Session, "before_flush", fail)
    try:
        response = api.delete(f"/api/tasks/{task['id']}", alice.token)
    finally:
        event.remove(Session, "before_flush", fail)

    assert response.status_code == 500
    assert api.get(f"/api/tasks/{task['id']}", alice.token).status_code == 200
    sent(app)
    assert names(to_alice) == []
    assert names(to_bob) == []


def test_a_failing_listener_after_commit_does_not_fail_the_request(app, api, alice, caplog):
    to_alice = socket_for(app, alice)

    def broken(sender, **kwargs):
        raise RuntimeError("listener bug")

    with signals.changes_committed.connected_to(broken):
        response = api.post("/api/tasks", alice.token, json={"title": "Committed"})

    assert response.status_code == 201
    sent(app)
    assert names(to_alice) == ["task_created"]
    assert "listener of changes-committed failed" in caplog.text


def test_the_request_still_answers_with_its_own_view_of_the_task(app, api, alice, bob):
    """The notifier reads each viewer's copy apart from the request's objects."""
    task = task_shared_with(api, alice, bob, "Mine")
    socket_for(app, bob)
    updated = api.patch(f"/api/tasks/{task['id']}", alice.token, json={"title": "Still mine"})
    assert updated.json["access"] == "owner"


def test_a_cookie_session_connects_only_while_its_login_is_live(app, api, alice):
    from doable.auth.tokens import read_refresh_token

    with app.app_context():
        sid = read_refresh_token(alice.refresh_token)["sid"]
    http = app.test_client()
    with http.session_transaction() as session:
        session["user_id"], session["auth_session_id"] = alice.id, sid
    socketio = app.extensions["socketio"]
    live = socketio.test_client(app, flask_test_client=http)
    assert live.is_connected()
    api.post("/api/logout", alice.token)
    assert not socketio.test_client(app, flask_test_client=http).is_connected()


@pytest.mark.parametrize(
    "value",
    ["*", "https://ok.example.com/path", "ftp://files.example.com", "example.com", ["*"]],
)
def test_allowed_origins_must_be_plain_origins(make_app, value):
    with pytest.raises(ConfigError, match="DOABLE_REALTIME_ALLOWED_ORIGINS"):
        make_app(REALTIME_ALLOWED_ORIGINS=value)


def test_allowed_origins_read_a_comma_separated_list(make_app):
    app = make_app(REALTIME_ALLOWED_ORIGINS="https://A.example.com, http://localhost:8080")
    assert app.config["REALTIME_ALLOWED_ORIGINS"] == [
        "https://a.example.com",
        "http://localhost:8080",
    ]


def test_an_update_reaches_the_owner_and_every_sharee_as_each_sees_it(app, api, alice, bob, carol):
    """Each recipient of the change is sent the task as their own right shows it."""
    task = api.post("/api/tasks", alice.token, json={"title": "Ours"}).json
    for sharee, permission in ((bob, "edit"), (carol, "view")):
        body = {"username": sharee.username, "permission": permission}
        assert api.post(f"/api/tasks/{task['id']}/share", alice.token, json=body).status_code == 201
    sockets = {account.username: socket_for(app, account) for account in (alice, bob, carol)}

    response = api.patch(f"/api/tasks/{task['id']}", bob.token, json={"title": "By bob"})

    assert response.status_code == 200
    got = {name: received(app, client) for name, client in sockets.items()}
    assert {
        name: [(event, data["title"], data["access"], data["seq"]) for event, data in events]
        for name, events in got.items()
    } == {
        "alice": [("task_updated", "By bob", "owner", 4)],  # created, shared, shared
        "bob": [("task_updated", "By bob", "edit", 2)],  # shared
        "carol": [("task_updated", "By bob", "view", 2)],
    }


def test_nobody_with_a_socket_means_nothing_is_read_or_sent(app, api, alice, bob):
    task_shared_with(api, alice, bob, "Unwatched")
    sent(app)
    statements = []
    change = Recorded(
        entity="task",
        entity_id=1,
        task_id=1,
        action="updated",
        changes={"title": ["a", "b"]},
        actor_id=alice.id,
    )

    def count(*args):
        statements.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with app.app_context():
            send_changes(app, [Committed(1, change, {alice.id: 5, bob.id: 3})])
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert statements == []


def test_a_failing_event_is_logged_and_the_next_one_still_sent(app, api, alice, caplog):
    to_alice = socket_for(app, alice)
    fanout(app).put(lambda: 1 / 0)

    created = api.post("/api/tasks", alice.token, json={"title": "After the failure"})

    assert created.status_code == 201
    assert [(name, data["title"]) for name, data in received(app, to_alice)] == [
        ("task_created", "After the failure")
    ]
    assert "real-time event not sent" in caplog.text
    assert "ZeroDivisionError" in caplog.text


def test_events_lost_while_redis_was_away_are_still_in_the_feed(
    app, api, alice, redis_url, redis_prefix
):
    """Redis away when the event is sent: nothing is sent, and nothing is lost, for the
    client reads its feed after the last ``seq`` it has when it connects again."""
    to_alice = socket_for(app, alice)
    created = api.post("/api/tasks", alice.token, json={"title": "Heard"}).json
    assert [data["seq"] for _, data in received(app, to_alice)] == [1]
    app.extensions["doable.realtime"] = RedisRegistry(
        f"redis://127.0.0.1:{free_port()}/0", redis_prefix
    )
    updated = api.patch(f"/api/tasks/{created['id']}", alice.token, json={"title": "Unheard"})
    assert updated.status_code == 200

    assert received(app, to_alice) == []
    feed = api.get("/api/events?after=1", alice.token).json
    assert [(e["seq"], e["action"], e["task_id"]) for e in feed["events"]] == [
        (2, "updated", created["id"])
    ]
