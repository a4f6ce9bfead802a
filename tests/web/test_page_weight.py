"""The task list stays light: for 50 tasks, its HTML plus every stylesheet and script it
loads (module imports followed) weigh under 60 KB gzipped, and all of it is our own.

The budget is measured compressed, as it travels: gzip at level 6 (the level Debian's
nginx.conf suggests beside ``gzip on``; a front that compresses less sends more). It is a
budget, not a benchmark: sizes, no timing.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import urljoin, urlsplit

from tests.support.factories import Account, ApiClient
from tests.support.pages import Browser

BUDGET = 60 * 1024
LEVEL = 6
TASKS = 50
ORIGIN = "http://localhost"
#: Where a page names something the browser fetches by itself (links are not fetched).
ASSET = re.compile(
    r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*?\bsrc=\"([^\"]*)\""
    r"|<link\b[^>]*?\bhref=\"([^\"]*)\"",
    re.I,
)
STYLESHEET = re.compile(r"<link\b(?=[^>]*\brel=\"stylesheet\")[^>]*?\bhref=\"([^\"]+)\"", re.I)
SCRIPT = re.compile(r"<script\b[^>]*?\bsrc=\"([^\"]+)\"", re.I)
#: A module's static imports and re-exports (``import x from "./y.js"``, ``import "./y.js"``,
#: ``export … from``) at the start of a line, and its dynamic ``import("./y.js")``.
IMPORT = re.compile(
    r"^\s*(?:import|export)\b[^;]*?[\s}*]from\s*[\"']([^\"']+)[\"']"
    r"|^\s*import\s*[\"']([^\"']+)[\"']"
    r"|\bimport\(\s*[\"']([^\"']+)[\"']\s*\)",
    re.M,
)


def gzipped(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=LEVEL))


def _seed(api: ApiClient, owner: Account, sharer: Account) -> None:
    """50 tasks on the first page: categories and due dates on most, 10 shared by Bob."""
    today = date.today()
    for number in range(TASKS - 10):
        api.post(
            "/api/tasks",
            owner.token,
            json={
                "title": f"Task number {number}: call the plumber about the kitchen sink",
                "priority": ("low", "medium", "high")[number % 3],
                "due_date": str(today + timedelta(days=number % 9 - 3)),
                "categories": [("home", "work", "errands")[number % 3], "weekly"][: number % 2 + 1],
            },
        )
    for number in range(10):
        task = api.post("/api/tasks", sharer.token, json={"title": f"Bob's task {number}"})
        api.post(
            f"/api/tasks/{task.json['id']}/share",
            sharer.token,
            json={"username": owner.username, "permission": ("view", "edit")[number % 2]},
        )


def _assets(browser: Browser, html: str) -> dict[str, bytes]:
    """Every stylesheet and script the page loads, by path: module imports followed."""
    found: dict[str, bytes] = {}
    queue = [urljoin(f"{ORIGIN}/tasks", href) for href in STYLESHEET.findall(html)]
    queue += [urljoin(f"{ORIGIN}/tasks", src) for src in SCRIPT.findall(html)]
    while queue:
        url = queue.pop()
        path = urlsplit(url).path
        if path in found:
            continue
        answer = browser.get(path)
        assert answer.status_code == 200, path
        found[path] = answer.get_data()
        answer.close()  # a static file's answer holds the file open
        if path.endswith((".js", ".mjs")):
            for groups in IMPORT.findall(found[path].decode()):
                queue.append(urljoin(url, next(name for name in groups if name)))
    return found


def test_task_list_of_fifty_tasks_weighs_under_budget_gzipped(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    _seed(api, alice, bob)
    browser = browse(alice)
    page = browser.get("/tasks?per_page=50")
    assert page.status_code == 200
    html = page.get_data()
    assert html.count(b'class="task-row') == TASKS

    files = {"/tasks?per_page=50": html, **_assets(browser, html.decode())}
    sizes = {path: (len(body), gzipped(body)) for path, body in files.items()}
    total = sum(compressed for _, compressed in sizes.values())
    table = "\n".join(
        f"{z:>7,} B gzipped ({raw:>7,} B raw)  {path}" for path, (raw, z) in sizes.items()
    )
    assert total < BUDGET, f"{total:,} B gzipped, budget {BUDGET:,} B:\n{table}"
    assert any(path.endswith("socket.js") for path in files), f"imports not followed:\n{table}"


def test_task_list_loads_nothing_from_another_origin(
    api: ApiClient, browse: Callable[..., Browser], alice: Account, bob: Account
) -> None:
    _seed(api, alice, bob)
    html = browse(alice).get("/tasks?per_page=50").get_data(as_text=True)
    sources = [src or href for src, href in ASSET.findall(html)]
    foreign = [
        url for url in sources if urlsplit(urljoin(f"{ORIGIN}/tasks", url)).netloc != "localhost"
    ]
    assert sources, "the page names no asset: the pattern is broken"
    assert foreign == []
