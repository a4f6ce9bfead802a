"""A change and its log commit together or not at all (docs/api.md, Change feed): a
rolled-back change appends nothing, a committed one appends exactly once (also when
its unit of work ran again after a refused write), and no feed shows a change before
it commits, nor a later ``seq`` before an earlier one of the same user."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm.exc import StaleDataError

from doable.categories.models import Category
from doable.changes.log import Recorded, record
from doable.extensions import db
from doable.tasks.models import Task
from doable.unit_of_work import stage, use_case
from tests.changes.feeds import actions, entries, feed, logged, new_task
from tests.support.factories import Account, ApiClient, assert_problem, at_once, share
from tests.support.servers import wait_for

WRITERS = 8


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks and waits that only PostgreSQL has")


def unchanged(app: Flask) -> Callable[[], None]:
    """Check, when called, that the log and the feeds are as they are now."""
    before = (logged(app), entries(app))

    def check() -> None:
        assert (logged(app), entries(app)) == before

    return check


def record_rename(task_id: int, actor: Account, title: str) -> None:
    """In the current unit of work: rename the task "A task" and log it."""
    db.session.execute(sa.update(Task).where(Task.id == task_id).values(title=title))
    record(
        Recorded(
            entity="task",
            entity_id=task_id,
            task_id=task_id,
            action="updated",
            changes={"title": ["A task", title]},
            actor_id=actor.id,
        )
    )


# --- a rolled-back change appends nothing --------------------------------------------


def test_a_task_write_refused_by_the_category_limit_appends_nothing(
    make_app: Callable[..., Flask], alice: Account, bob: Account
) -> None:
    capped = make_app(MAX_CATEGORIES_PER_USER=2)
    api = ApiClient(capped.test_client())
    task_id = new_task(api, alice, categories=["one"])
    share(api, alice, task_id, bob, "edit")
    check = unchanged(capped)

    by_owner = api.post("/api/tasks", alice.token, json={"title": "x", "categories": ["2", "3"]})
    by_sharee = api.patch(
        f"/api/tasks/{task_id}", bob.token, json={"title": "Renamed", "categories": ["a", "b"]}
    )

    assert_problem(by_owner, 409)
    assert_problem(by_sharee, 409)  # after its title was written, in the same transaction
    check()


def test_a_write_with_a_failing_if_match_appends_nothing(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task_id = new_task(api, alice)
    etag = api.get(f"/api/tasks/{task_id}", alice.token).headers["ETag"]
    assert api.patch(f"/api/tasks/{task_id}", alice.token, json={"title": "B"}).status_code == 200
    check = unchanged(app)
    stale = {"If-Match": etag}

    put = api.put(f"/api/tasks/{task_id}", alice.token, headers=stale, json={"title": "C"})
    deleted = api.delete(f"/api/tasks/{task_id}", alice.token, headers=stale)

    assert_problem(put, 412)
    assert_problem(deleted, 412)
    check()


def test_refused_shares_append_nothing(
    api: ApiClient, app: Flask, alice: Account, bob: Account, carol: Account
) -> None:
    task_id = new_task(api, alice)
    share(api, alice, task_id, bob, "view")
    check = unchanged(app)
    path = f"/api/tasks/{task_id}/share"

    assert_problem(
        api.post(path, alice.token, json={"username": "alice", "permission": "edit"}), 400
    )
    assert_problem(
        api.post(path, alice.token, json={"username": "nobody", "permission": "edit"}), 404
    )
    assert_problem(api.post(path, bob.token, json={"username": "carol", "permission": "view"}), 403)
    assert_problem(api.delete(f"{path}/{carol.id}", alice.token), 404)
    check()


def test_racing_identical_shares_log_the_one_that_commits(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    """The losers' changes were written in their transactions (the share's row is
    flushed before the log is), then rolled back with them."""
    task_id = new_task(api, alice)
    body = {"username": "bob", "permission": "edit"}

    results = at_once(
        app,
        lambda client, n: ApiClient(client).post(
            f"/api/tasks/{task_id}/share", alice.token, json=body
        ),
        WRITERS,
    )

    statuses = Counter(response.status_code for response in results)
    assert statuses[201] == 1, [r.get_json() for r in results]
    assert set(statuses) <= {201, 200, 409}, statuses
    assert [action for _, _, action in logged(app)] == ["created", "shared"]
    assert actions(feed(api, bob)) == [("shared", task_id)]
    assert [e["seq"] for e in feed(api, alice)] == [1, 2]


def test_a_unit_of_work_that_raises_after_recording_appends_nothing(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    task_id = new_task(api, alice)
    check = unchanged(app)

    @use_case
    def rename(title: str, fail: bool) -> None:
        record_rename(task_id, alice, title)
        if fail:
            raise LookupError("after record()")

    with app.app_context():
        with pytest.raises(LookupError):
            rename("Never", fail=True)
        db.session.remove()
    check()

    with app.app_context():
        rename("Once", fail=False)
        db.session.remove()
    (renamed,) = feed(api, alice, after=1)
    assert (renamed["seq"], renamed["changes"]) == (2, {"title": ["A task", "Once"]})
    assert [action for _, _, action in logged(app)] == ["created", "updated"]


def test_a_writer_that_fails_after_the_log_is_written_takes_it_back(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    """The last moment a unit of work can fail: the log's rows are in its transaction
    and a writer staged after them raises."""
    task_id = new_task(api, alice)
    check = unchanged(app)

    def broken(_: list[Any]) -> None:
        raise OSError("disk gone")

    @use_case
    def rename() -> None:
        record_rename(task_id, alice, "Never")
        stage(broken, None)

    with app.app_context():
        with pytest.raises(OSError, match="disk gone"):
            rename()
        db.session.remove()

    check()
    assert api.get(f"/api/tasks/{task_id}", alice.token).get_json()["title"] == "A task"


# --- a committed change appends exactly once -------------------------------------------


def test_concurrent_puts_each_append_exactly_once_for_each_viewer(
    app: Flask, api: ApiClient, alice: Account, bob: Account
) -> None:
    task_id = new_task(api, alice)
    share(api, alice, task_id, bob, "edit")

    results = at_once(
        app,
        lambda client, n: ApiClient(client).put(
            f"/api/tasks/{task_id}", (alice, bob)[n % 2].token, json={"title": f"writer {n}"}
        ),
        WRITERS,
    )

    assert [r.status_code for r in results] == [200] * WRITERS
    for account in (alice, bob):
        updates = [e for e in feed(api, account) if e["action"] == "updated"]
        assert sorted(e["version"] for e in updates) == list(range(2, 2 + WRITERS))
        assert [e["version"] for e in updates] == sorted(e["version"] for e in updates)
        titles = [e["changes"]["title"] for e in updates]
        for before, after in itertools.pairwise(titles):
            assert after[0] == before[1]  # each change starts where the previous ended
        assert sorted(t[1] for t in titles) == sorted(f"writer {n}" for n in range(WRITERS))
    assert Counter(action for _, _, action in logged(app))["updated"] == WRITERS
    assert len(entries(app)) == 2 * (WRITERS + 1) + 1  # created: alice; shared, updates: both


def test_racing_writes_that_create_one_category_each_append_once(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    """On PostgreSQL the losers of the race for the new category's name are refused by
    its unique index and run again (``update_task``'s retry): each still appends once."""
    tasks = [new_task(api, alice, title=f"t{n}") for n in range(WRITERS)]

    results = at_once(
        app,
        lambda client, n: ApiClient(client).patch(
            f"/api/tasks/{tasks[n]}", alice.token, json={"categories": ["Shared new"]}
        ),
        WRITERS,
    )

    assert [r.status_code for r in results] == [200] * WRITERS, [r.get_json() for r in results]
    counted = Counter(action for _, _, action in logged(app))
    assert (counted["updated"], counted["category_created"]) == (WRITERS, 1)
    events = feed(api, alice)
    assert [e["seq"] for e in events] == list(range(1, 2 * WRITERS + 2))
    updated = [e["task_id"] for e in events if e["action"] == "updated"]
    assert sorted(updated) == tasks


def test_update_tasks_retry_appends_once(
    app: Flask,
    api: ApiClient,
    alice: Account,
    database_url: str,
    postgres_only: None,
    statements: list[str],
) -> None:
    """Deterministically: another transaction inserts the category first and commits
    while the PUT waits on the name; the PUT's first attempt is refused, its second
    finds the category."""
    task_id = new_task(api, alice)
    outside = sa.create_engine(database_url)
    try:
        with outside.connect() as holder:
            holder.execute(sa.insert(Category).values(user_id=alice.id, name="Raced"))
            put = _in_thread(
                lambda: api.client.application.test_client().patch(
                    f"/api/tasks/{task_id}",
                    headers=alice.auth,
                    json={"title": "Tagged", "categories": ["Raced"]},
                )
            )
            wait_for(lambda: _waiting_on_a_lock(outside), "the PUT waiting for the name")
            holder.commit()
            response = put()
    finally:
        outside.dispose()

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["categories"] == ["Raced"]
    # The body ran twice: the first attempt wrote the task and tried the name, refused;
    # the second wrote the task again and found the category the other one made.
    assert len([s for s in statements if s.startswith("UPDATE task SET")]) == 2
    assert len([s for s in statements if s.startswith("INSERT INTO category ")]) == 1
    assert [action for _, _, action in logged(app)] == ["created", "updated"]
    (updated,) = feed(api, alice, after=1)
    assert updated["changes"] == {
        "title": ["A task", "Tagged"],
        "categories": [[], ["Raced"]],
    }


def test_a_unit_of_work_run_again_logs_its_last_attempt_only(
    app: Flask, api: ApiClient, alice: Account
) -> None:
    """What an attempt refused by the database staged goes with it; the retry stages again."""
    task_id = new_task(api, alice)
    attempts: list[int] = []

    @use_case(retry=3)
    def rename() -> None:
        attempts.append(len(attempts) + 1)
        title = f"attempt {len(attempts)}"
        record_rename(task_id, alice, title)
        if len(attempts) < 3:
            raise StaleDataError("a concurrent writer got there first")

    with app.app_context():
        rename()
        db.session.remove()

    assert attempts == [1, 2, 3]
    (renamed,) = feed(api, alice, after=1)
    assert (renamed["seq"], renamed["changes"]) == (2, {"title": ["A task", "attempt 3"]})
    assert [action for _, _, action in logged(app)] == ["created", "updated"]


# --- never visible before the commit -------------------------------------------------


@pytest.fixture
def held(app: Flask, alice: Account) -> Iterator[Callable[..., Callable[[], None]]]:
    """``held(task_id, title)``: rename the task in a unit of work that stops after
    writing its log, before it commits; returns the function that lets it commit."""
    releases: list[threading.Event] = []

    def hold(task_id: int, title: str) -> Callable[[], None]:
        written, release = threading.Event(), threading.Event()
        releases.append(release)

        def wait(_: list[Any]) -> None:  # staged after the log: runs right after it
            written.set()
            assert release.wait(10), "never released"

        @use_case
        def rename() -> None:
            record_rename(task_id, alice, title)
            stage(wait, None)

        def run() -> None:
            with app.app_context():
                rename()
                db.session.remove()

        finished = _in_thread(run)
        assert written.wait(10), "the log was not written"

        def commit() -> None:
            release.set()
            finished()

        return commit

    yield hold
    for release in releases:  # a test that failed before letting it commit
        release.set()


def test_a_change_is_in_no_feed_before_it_commits(
    api: ApiClient, alice: Account, bob: Account, held: Callable[..., Callable[[], None]]
) -> None:
    task_id = new_task(api, alice)
    share(api, alice, task_id, bob, "view")

    commit = held(task_id, "Held")
    meanwhile = {account.username: feed(api, account) for account in (alice, bob)}
    task_meanwhile = api.get(f"/api/tasks/{task_id}", bob.token).get_json()
    commit()

    assert [e["action"] for e in meanwhile["alice"]] == ["created", "shared"]
    assert [e["action"] for e in meanwhile["bob"]] == ["shared"]
    assert task_meanwhile["title"] == "A task"
    assert actions(feed(api, alice, after=2)) == [("updated", task_id)]
    assert actions(feed(api, bob, after=1)) == [("updated", task_id)]


def test_a_later_seq_commits_only_after_an_earlier_one(
    app: Flask,
    api: ApiClient,
    alice: Account,
    database_url: str,
    postgres_only: None,
    held: Callable[..., Callable[[], None]],
) -> None:
    """A reader must never see seq 3 while seq 2 may still commit: it would go on from
    3 and miss 2. A second writer for the same user waits for the first's commit."""
    first, second = new_task(api, alice), new_task(api, alice)

    commit = held(first, "First")
    put = _in_thread(
        lambda: app.test_client().patch(
            f"/api/tasks/{second}", headers=alice.auth, json={"title": "Second"}
        )
    )
    outside = sa.create_engine(database_url)
    try:
        wait_for(lambda: _waiting_on_a_lock(outside), "the second writer waiting for the feed")
        meanwhile = feed(api, alice)
    finally:
        outside.dispose()
    commit()
    assert put().status_code == 200

    assert [e["seq"] for e in meanwhile] == [1, 2]
    later = feed(api, alice, after=2)
    assert [(e["seq"], e["task_id"]) for e in later] == [(3, first), (4, second)]


def test_a_writer_takes_the_feeds_lock_last(
    app: Flask, api: ApiClient, alice: Account, database_url: str, postgres_only: None
) -> None:
    """What the unit of work left in the session is written before the feeds are
    numbered: a category's deletion waiting for a task's link (locked by a writer of
    the task) does not hold its owner's feed meanwhile, which that writer would wait
    for next (a deadlock)."""
    new_task(api, alice, categories=["Work"])
    (work,) = api.get("/api/categories", alice.token).get_json()["categories"]
    outside = sa.create_engine(database_url)
    try:
        with outside.connect() as holder:
            holder.execute(sa.text("SELECT * FROM task_category FOR UPDATE"))
            deleted = _in_thread(
                lambda: app.test_client().delete(
                    f"/api/categories/{work['id']}", headers=alice.auth
                )
            )
            wait_for(lambda: _waiting_on_a_lock(outside), "the deletion waiting for the link")
            with outside.connect() as probe:
                cursor = sa.text(
                    "SELECT last_seq FROM feed_cursor WHERE user_id = :user FOR UPDATE NOWAIT"
                )
                assert probe.execute(cursor, {"user": alice.id}).scalar() == 2
                probe.rollback()
            holder.rollback()
        assert deleted().status_code == 204
    finally:
        outside.dispose()

    assert [e["action"] for e in feed(api, alice, after=2)] == ["updated", "category_deleted"]


def _in_thread(run: Callable[[], Any]) -> Callable[[], Any]:
    """Start ``run`` in a thread; return the function that waits for its result."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(run())
        except BaseException as error:  # handed to the test's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()

    def join() -> Any:
        thread.join(30)
        assert not thread.is_alive(), "it hung"
        if errors:
            raise errors[0]
        return result[0]

    return join


def _waiting_on_a_lock(engine: sa.Engine) -> bool:
    """Whether a session of this database waits for a lock another one holds."""
    with engine.connect() as connection:
        waiting = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar()
    return bool(waiting)
