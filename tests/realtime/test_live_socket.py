"""The pages' own Socket.IO client, ``static/live/socket.js``, alone: Node runs it
(tests/js/live_socket.mjs) against real servers, with no page and no browser.

It needs what tests/realtime/test_js_client.py needs (``npm ci --prefix tests/js``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.realtime.conftest import Deployment
from tests.realtime.test_js_client import JS, NodeClient, make_task, node, rename
from tests.support.realtime import WAIT, new_user

pytestmark = pytest.mark.slow
LIVE_SOCKET = JS / "live_socket.mjs"
__all__ = ["node"]  # the fixture, shared with test_js_client


@pytest.fixture
def live_socket(node: str) -> Iterator[Callable[..., NodeClient]]:
    started: list[NodeClient] = []

    def start(base: str, token: str, *flags: str) -> NodeClient:
        client = NodeClient(node, base, token, *flags, script=LIVE_SOCKET)
        if "--until-idle" in flags:
            assert client.process.stdin is not None
            client.process.stdin.close()  # it does not listen: it ends when the client does
        started.append(client)
        return client

    yield start
    for client in started:
        client.close()


def _states(client: NodeClient) -> list[str]:
    return [line["state"] for line in client.seen if line["type"] == "state"]


def test_connects_and_hands_over_events_as_the_server_sends_them(
    deployment: Deployment, live_socket: Callable[..., NodeClient]
) -> None:
    user = new_user(deployment.change_url)
    task = make_task(user, deployment)
    client = live_socket(deployment.listen_url, user.token)
    client.until(lambda line: line.get("state") == "connected")

    rename(user, deployment, task["id"], "Seen by the page's client")
    updated = client.event("task_updated")

    fetched = user.call("GET", f"/api/tasks/{task['id']}", base=deployment.change_url).json()
    assert updated["data"] == {**fetched, "seq": 2}  # created, renamed: its place in the feed
    assert _states(client) == ["connecting", "connected"]


@pytest.mark.parametrize(
    ("token", "reason"), [("", "without auth"), ("not-a-token", "with a bad token")]
)
def test_refused_for_good_it_stops_and_leaves_nothing_running(
    deployment: Deployment, live_socket: Callable[..., NodeClient], token: str, reason: str
) -> None:
    client = live_socket(deployment.listen_url, token, "--until-idle")

    client.until(lambda line: line.get("state") == "refused")

    # Node exits by itself only when no socket and no retry timer is left.
    assert client.process.wait(timeout=WAIT) == 0, reason
    assert _states(client) == ["connecting", "refused"], client
