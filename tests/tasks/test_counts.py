"""The per-user task counter behind the total of an unfiltered list."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task, TaskCount
from tests.support.factories import Account, ApiClient


def _counter(app: Flask, user_id: int) -> int | None:
    with app.app_context():
        return db.session.scalar(sa.select(TaskCount.owned).where(TaskCount.user_id == user_id))


def _real_count(app: Flask, user_id: int) -> int:
    with app.app_context():
        return db.session.query(Task).filter(Task.user_id == user_id).count()


def test_create_and_delete_keep_the_counter_equal_to_the_tasks(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    ids = [
        api.post("/api/tasks", alice.token, json={"title": f"t{n}"}).json["id"] for n in range(3)
    ]
    assert api.delete(f"/api/tasks/{ids[1]}", alice.token).status_code == 204
    assert _counter(app, alice.id) == _real_count(app, alice.id) == 2
    assert api.get("/api/tasks", alice.token).json["total"] == 2


def test_list_total_without_a_counter_falls_back_to_counting(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    for n in range(2):
        api.post("/api/tasks", alice.token, json={"title": f"t{n}"})
    with app.app_context():
        db.session.execute(sa.delete(TaskCount))
        db.session.commit()
    assert api.get("/api/tasks", alice.token).json["total"] == 2
    api.post("/api/tasks", alice.token, json={"title": "again"})
    assert _counter(app, alice.id) == 3


def test_unfiltered_total_reads_the_counter_and_filtered_totals_count(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    api.post("/api/tasks", alice.token, json={"title": "one", "status": "completed"})
    with app.app_context():
        db.session.execute(sa.update(TaskCount).values(owned=41))
        db.session.commit()
    assert api.get("/api/tasks", alice.token).json["total"] == 41
    assert api.get("/api/tasks?status=completed", alice.token).json["total"] == 1


def test_concurrent_first_creates_count_every_task_once(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def create(n: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        response = client.post(
            "/api/tasks",
            json={"title": f"race {n}"},
            headers={"Authorization": f"Bearer {alice.token}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [201] * 6
    assert _counter(app, alice.id) == _real_count(app, alice.id) == 6
