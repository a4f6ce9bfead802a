"""Take the README's screenshots (docs/screenshots/*.png) of the main pages.

Run by hand from the repository root, with Debian's Chromium at /usr/bin/chromium:

    ./scripts/screenshots                        # the venv wrapper; writes docs/screenshots
    .venv/bin/python scripts/screenshots.py [FOLDER]

It starts a throwaway ``doable serve`` on a temporary SQLite file, seeds Maya's tasks
through the API and photographs each page at desktop width and the list at 375 px, in the
light and the dark colour scheme (emulated; the pages follow it while the user's theme is
"system"); pages not on this build yet (Today, Upcoming, the shortcuts dialog) are
skipped, saying so. It is not a test: it asserts nothing (the pages' behaviour is tested
in tests/browser/).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test support code that starts servers and drives pages

from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, Visitor  # noqa: E402
from tests.support.factories import PASSWORD  # noqa: E402
from tests.support.servers import running_server, server_env  # noqa: E402

DESKTOP = {"width": 1200, "height": 800}
PHONE = {"width": 375, "height": 740}


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


#: (file name, path): the desktop shots, in each theme. ``{shown}`` is the task shown.
PAGES = [
    ("tasks", "/tasks"),
    ("today", "/tasks/today"),  # taken once the page exists (answers 200)
    ("upcoming", "/tasks/upcoming"),
    ("task", "/tasks/{shown}"),
    ("categories", "/categories"),
    ("account", "/account"),
    ("not-found", "/tasks/999999"),
]
#: The shots at a phone's width.
PHONE_PAGES = [("tasks", "/tasks"), ("today", "/tasks/today")]
THEMES = ("light", "dark")


def _name(name: str, theme: str, suffix: str = "") -> str:
    """``tasks.png``, ``tasks-dark.png``, ``tasks-375px.png``, ``tasks-375px-dark.png``."""
    return f"{name}{suffix}{'' if theme == 'light' else '-' + theme}.png"


def take_screenshots(browser: Any, server: str, folder: Path) -> list[str]:
    """Every shot, in both colour schemes; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    shown = _seed(server)
    written: list[str] = []

    def shot(page: Any, file: str, path: str, status: int = 200) -> None:
        answer = page.goto(f"{server}{path.format(shown=shown)}")
        if answer.status != status:
            print(f"skipped {file}: {path} answers {answer.status}")
            return
        page.screenshot(path=str(folder / file), full_page=True)
        written.append(file)

    for theme in THEMES:
        visitor = Visitor(browser.new_context(viewport=DESKTOP, color_scheme=theme), server)
        shot(visitor.page, _name("login", theme), "/login")
        visitor.login("maya")
        for name, path in PAGES:
            shot(visitor.page, _name(name, theme), path, 404 if name == "not-found" else 200)
        _shortcuts(visitor.page, server, folder / _name("shortcuts", theme), written)
        phone = Visitor(browser.new_context(viewport=PHONE, color_scheme=theme), server)
        phone.login("maya")
        for name, path in PHONE_PAGES:
            shot(phone.page, _name(name, theme, "-375px"), path)
        visitor.context.close()
        phone.context.close()
    return written


def _shortcuts(page: Any, server: str, file: Path, written: list[str]) -> None:
    """The keyboard shortcuts dialog (``?`` on the list), once it exists."""
    from playwright.sync_api import TimeoutError as Timeout

    page.goto(f"{server}/tasks")
    page.keyboard.press("?")
    try:
        page.locator("dialog[open], [role=dialog]:visible").first.wait_for(timeout=2000)
    except Timeout:  # no dialog on this build: nothing to take
        print(f"skipped {file.name}: no dialog opens on ?")
        return
    page.screenshot(path=str(file))
    written.append(file.name)


def main(argv: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    folder = Path(argv[0]) if argv else ROOT / "docs" / "screenshots"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        env = server_env(f"sqlite:///{tmp}/doable.sqlite3", Path(tmp))
        env["DOABLE_RATELIMIT_ENABLED"] = "false"
        with running_server(env, log_path=Path(tmp) / "serve.log") as server:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
            )
            written = take_screenshots(browser, server, folder)
            browser.close()
    print(f"{len(written)} screenshots written to {folder}: {', '.join(written)}")


if __name__ == "__main__":
    main(sys.argv[1:])
