"""Screenshots of the main pages for the README: ``scripts/screenshots`` runs this with
``DOABLE_SCREENSHOTS`` set to the folder to write (``docs/screenshots``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.factories import PASSWORD

OUTPUT = os.environ.get("DOABLE_SCREENSHOTS")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not OUTPUT, reason="set DOABLE_SCREENSHOTS=<folder> to take screenshots"),
]
DESKTOP = {"width": 1200, "height": 800}


def _api(base: str, username: str) -> dict[str, str]:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    requests.post(f"{base}/api/register", json=body, timeout=10).raise_for_status()
    login = requests.post(
        f"{base}/api/login", json={"username": username, "password": PASSWORD}, timeout=10
    )
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _seed(base: str) -> int:
    """Maya's tasks, one of them shared by Sam; returns the id of the one to show."""
    maya, sam = _api(base, "maya"), _api(base, "sam")
    today = datetime.now(UTC).date()
    for name, color in (("work", "#4f46e5"), ("home", "#16a34a"), ("errands", "#ea580c")):
        requests.post(
            f"{base}/api/categories", json={"name": name, "color": color}, headers=maya, timeout=10
        )
    tasks = [
        ("Renew passport", "pending", "high", today - timedelta(days=3), ["errands"]),
        ("Book dentist appointment", "completed", "low", today - timedelta(days=1), ["home"]),
        ("Water the plants", "pending", "low", None, ["home"]),
        ("Review pull request #42", "in_progress", "medium", today + timedelta(days=1), ["work"]),
    ]
    for title, status, priority, due, categories in tasks:
        body = {"title": title, "status": status, "priority": priority, "categories": categories}
        if due:
            body["due_date"] = due.isoformat()
        requests.post(f"{base}/api/tasks", json=body, headers=maya, timeout=10)
    shared = requests.post(
        f"{base}/api/tasks",
        json={"title": "Plan the team offsite", "priority": "medium", "due_date": str(today)},
        headers=sam,
        timeout=10,
    ).json()
    requests.post(
        f"{base}/api/tasks/{shared['id']}/share",
        json={"username": "maya", "permission": "view"},
        headers=sam,
        timeout=10,
    )
    shown = requests.post(
        f"{base}/api/tasks",
        json={
            "title": "Prepare the quarterly report",
            "description": "Collect the numbers from finance.\nDraft the summary for Friday.",
            "status": "in_progress",
            "priority": "high",
            "due_date": (today + timedelta(days=4)).isoformat(),
            "categories": ["work"],
        },
        headers=maya,
        timeout=10,
    ).json()
    requests.post(
        f"{base}/api/tasks/{shown['id']}/attachments",
        files={"file": ("q3-figures.csv", b"month,revenue\njuly,100\n" * 40, "text/csv")},
        headers=maya,
        timeout=10,
    )
    requests.post(
        f"{base}/api/tasks/{shown['id']}/share",
        json={"username": "sam", "permission": "edit"},
        headers=maya,
        timeout=10,
    )
    return int(shown["id"])


def test_take_screenshots_of_the_main_pages(visitors: Any, server: str) -> None:
    folder = Path(OUTPUT or ".")
    folder.mkdir(parents=True, exist_ok=True)
    shown = _seed(server)
    visitor = visitors(viewport=DESKTOP)
    page = visitor.page

    def shot(name: str, path: str) -> None:
        page.goto(f"{server}{path}")
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    shot("login", "/login")
    visitor.login("maya")
    shot("tasks", "/tasks")
    shot("task", f"/tasks/{shown}")
    shot("categories", "/categories")
    shot("account", "/account")
    shot("not-found", "/tasks/999999")
    phone = visitors(viewport={"width": 375, "height": 740})
    phone.login("maya")
    phone.page.goto(f"{server}/tasks")
    phone.page.screenshot(path=str(folder / "tasks-375px.png"), full_page=True)
