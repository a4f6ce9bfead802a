"""The five-step curl session of the tutorial's assignment, replayed literally.

Bodies and headers are exactly what the assignment's curl commands send (the
README's walk through the API repeats them); the assertions hold the responses to
the shapes that session shows.
"""

from __future__ import annotations

from tests.support.factories import TIMESTAMP


def test_seed_curl_session_works_unchanged(client):
    json_header = {"Content-Type": "application/json"}

    # 1. Register a new user
    response = client.post(
        "/api/register",
        headers=json_header,
        data='{"username": "alice", "email": "alice@example.com", "password": "secret123"}',
    )
    assert response.status_code == 201
    assert response.json == {"message": "User created successfully", "user_id": 1}

    # 2. Login to get JWT token
    response = client.post(
        "/api/login",
        headers=json_header,
        data='{"email": "alice@example.com", "password": "secret123"}',
    )
    assert response.status_code == 200
    token = response.json["token"]
    assert token.startswith("eyJ")
    auth = {"Authorization": f"Bearer {token}"}

    # 3. Create a task (requires token)
    response = client.post(
        "/api/tasks",
        headers={**auth, **json_header},
        data='{"title": "Learn Flask", "description": "Complete Flask tutorial", '
        '"priority": "high", "status": "in_progress"}',
    )
    assert response.status_code == 201
    created = response.json
    assert created["id"] == 1
    assert created["title"] == "Learn Flask"
    assert created["status"] == "in_progress"
    assert TIMESTAMP.match(created["created_at"])

    # (the assignment's listing shows a second task, "Build API", at medium priority)
    response = client.post(
        "/api/tasks", headers=auth, json={"title": "Build API", "status": "in_progress"}
    )
    assert response.status_code == 201

    # 4. Get all tasks with filtering
    response = client.get("/api/tasks?status=in_progress&page=1", headers=auth)
    assert response.status_code == 200
    listing = response.json
    assert {(t["id"], t["title"], t["status"], t["priority"]) for t in listing["tasks"]} == {
        (1, "Learn Flask", "in_progress", "high"),
        (2, "Build API", "in_progress", "medium"),
    }
    assert (listing["total"], listing["page"], listing["pages"]) == (2, 1, 1)

    # 5. Update a task
    response = client.put(
        "/api/tasks/1", headers={**auth, **json_header}, data='{"status": "completed"}'
    )
    assert response.status_code == 200
    assert response.json["id"] == 1
    assert response.json["title"] == "Learn Flask"
    assert response.json["status"] == "completed"
    assert TIMESTAMP.match(response.json["updated_at"])
