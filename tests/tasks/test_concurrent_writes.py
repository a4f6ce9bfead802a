"""Many writers on one task at once. Without If-Match the last writer wins and every
write is acknowledged (200); with the same If-Match exactly one wins and the rest get
412. Real concurrency: one thread per request, each with its own client and database
connection, released together."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.support.factories import Account, ApiClient, assert_problem, at_once, stored_task

WRITERS = 16


def new_task(api: ApiClient, owner: Account) -> int:
    response = api.post("/api/tasks", owner.token, json={"title": "Hot spot"})
    assert response.status_code == 201
    return int(response.get_json()["id"])


def test_concurrent_puts_without_if_match_all_succeed_and_one_of_them_is_stored(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task_id = new_task(api, alice)
    bodies = [
        {"title": f"writer {n}", "description": f"by {n}", "priority": ("low", "high")[n % 2]}
        for n in range(WRITERS)
    ]

    results = at_once(
        app,
        lambda client, n: client.put(f"/api/tasks/{task_id}", headers=alice.auth, json=bodies[n]),
        WRITERS,
    )

    statuses = [response.status_code for response in results]
    assert statuses == [200] * WRITERS, [r.get_data(as_text=True) for r in results]
    for response, body in zip(results, bodies, strict=True):
        assert response.get_json()["title"] == body["title"]
    stored = stored_task(app, task_id)
    assert stored is not None
    written = {(b["title"], b["description"], {"low": 1, "high": 3}[b["priority"]]) for b in bodies}
    assert (stored["title"], stored["description"], stored["priority"]) in written
    assert stored["version"] == 1 + WRITERS


def test_concurrent_puts_with_the_same_if_match_exactly_one_wins(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task_id = new_task(api, alice)
    etag = api.get(f"/api/tasks/{task_id}", alice.token).headers["ETag"]

    results = at_once(
        app,
        lambda client, n: client.put(
            f"/api/tasks/{task_id}",
            headers={**alice.auth, "If-Match": etag},
            json={"title": f"writer {n}"},
        ),
        WRITERS,
    )

    statuses = sorted(response.status_code for response in results)
    assert statuses == [200] + [412] * (WRITERS - 1), [r.get_data(as_text=True) for r in results]
    for response in results:
        if response.status_code == 412:
            assert_problem(response, 412)
    winner = next(response for response in results if response.status_code == 200)
    stored = stored_task(app, task_id)
    assert stored is not None
    assert stored["title"] == winner.get_json()["title"]
    assert stored["version"] == 2


def test_a_delete_racing_puts_without_if_match_succeeds(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    task_id = new_task(api, alice)
    path = f"/api/tasks/{task_id}"

    def send(client: Any, n: int) -> Any:
        if n == WRITERS // 2:
            return client.delete(path, headers=alice.auth)
        return client.put(path, headers=alice.auth, json={"title": f"writer {n}"})

    results = at_once(app, send, WRITERS)

    deleted = results[WRITERS // 2]
    assert deleted.status_code == 204, deleted.get_data(as_text=True)
    puts = [r.status_code for n, r in enumerate(results) if n != WRITERS // 2]
    assert set(puts) <= {200, 404}, [r.get_data(as_text=True) for r in results]
    assert stored_task(app, task_id) is None
