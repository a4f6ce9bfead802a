"""docs/deploy.md's nginx config, run for real in front of ``doable serve``: the config
from the page, with only its addresses, certificate and upstream port swapped for ones
on this machine. Pages, API, uploads and a Socket.IO connection all go through it."""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio
import urllib3

from tests.conftest import REDIS_TEST_URL, service_missing
from tests.realtime.conftest import _forget_prefix, _redis_available
from tests.support.realtime import WAIT, Listener
from tests.support.servers import free_port, running_server, server_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PAGE_HOST = "tasks.example.com"
HSTS = "max-age=63072000; includeSubDomains"


def _documented_config() -> str:
    page = (ROOT / "docs" / "deploy.md").read_text()
    start = page.index("```nginx") + len("```nginx")
    return page[start : page.index("```", start)]


def _runnable(config: str, upstreams: list[int], http: int, https: int, tls: Path) -> str:
    """The documented config with this machine's ports and a throwaway certificate."""
    swaps = [
        ("server 127.0.0.1:5001;", f"server 127.0.0.1:{upstreams[0]};"),
        ("server 127.0.0.1:5002;", f"server 127.0.0.1:{upstreams[1]};"),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
    ]
    for old, new in swaps:
        assert old in config, f"docs/deploy.md's nginx config no longer has {old!r}"
        config = config.replace(old, new)
    config = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {tls / 'cert.pem'};", config)
    config = re.sub(
        r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {tls / 'key.pem'};", config
    )
    return config


@pytest.fixture
def through_nginx(tmp_path: Path) -> Iterator[tuple[str, requests.Session]]:
    """``doable serve`` behind the documented nginx: nginx's https base URL, and an HTTP
    session that trusts its throwaway certificate."""
    if not os.access(NGINX, os.X_OK):
        service_missing(f"nginx is not installed at {NGINX} (apt-get install nginx)")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={PAGE_HOST}", "-addext", f"subjectAltName=IP:127.0.0.1,DNS:{PAGE_HOST}",
         "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    _redis_available()
    prefix = f"doable-test-{uuid.uuid4().hex[:12]}"
    env = server_env(
        f"sqlite:///{tmp_path / 'doable.sqlite3'}",
        tmp_path,
        DOABLE_ENV="production",
        DOABLE_PROXY_HOPS="1",
        DOABLE_TRUSTED_HOSTS=f"{PAGE_HOST},127.0.0.1",
        REDIS_URL=REDIS_TEST_URL,
        DOABLE_REDIS_PREFIX=prefix,
    )
    with (
        running_server(env, log_path=tmp_path / "serve-1.log") as first,
        running_server(env, log_path=tmp_path / "serve-2.log") as second,
    ):
        http, https = free_port(), free_port()
        ports = [int(url.rsplit(":", 1)[1]) for url in (first, second)]
        server_blocks = _runnable(_documented_config(), ports, http, https, tmp_path)
        (tmp_path / "nginx.conf").write_text(
            f"daemon off;\npid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
            "events {}\nhttp {\n"
            f"  access_log {tmp_path / 'access.log'};\n"
            f"  client_body_temp_path {tmp_path / 'body'};\n"
            f"  proxy_temp_path {tmp_path / 'proxy'};\n"
            f"{server_blocks}\n}}\n"
        )
        checked = subprocess.run(
            [NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr
        nginx = subprocess.Popen(
            [NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"https://127.0.0.1:{https}"
        http_session = requests.Session()
        # The certificate is a throwaway made above; what is tested is nginx's config.
        http_session.verify = False
        http_session.trust_env = False  # no CA bundle from the environment overriding it
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    http_session.get(f"{base}/healthz", timeout=2)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            yield base, http_session
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
            _forget_prefix(prefix)


def test_the_api_pages_and_uploads_work_through_the_documented_nginx(through_nginx):
    base, http = through_nginx
    page_host = {"Host": PAGE_HOST}
    body = {"username": "alice", "email": "alice@example.com", "password": "secret123"}
    registered = http.post(f"{base}/api/register", json=body, timeout=10)
    assert registered.status_code == 201, registered.text
    # nginx's $request_id reaches Doable, which logs it and echoes it
    assert re.fullmatch(r"[0-9a-f]{32}", registered.headers["X-Request-Id"])

    login = http.post(
        f"{base}/api/login", json={"username": "alice", "password": "secret123"},
        headers=page_host, timeout=10,
    )  # fmt: skip
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['token']}", **page_host}
    task = http.post(
        f"{base}/api/tasks", json={"title": "Through nginx"}, headers=auth,
        timeout=10,
    ).json()  # fmt: skip
    content = os.urandom(3 * 1024 * 1024)
    uploaded = http.post(
        f"{base}/api/tasks/{task['id']}/attachments",
        files={"file": ("big.bin", content, "application/octet-stream")},
        headers=auth, timeout=30,
    )  # fmt: skip
    assert uploaded.status_code == 201, uploaded.text

    page = http.get(f"{base}/login", headers=page_host, timeout=10)
    assert page.status_code == 200
    cookie = page.headers["Set-Cookie"]
    assert "Secure" in cookie  # Doable saw https through X-Forwarded-Proto
    assert "HttpOnly" in cookie

    # compressed, as the page weight budget assumes (README, Web UI: Looks)
    zipped = {"Accept-Encoding": "gzip", **page_host}
    for path in ("/login", "/static/style.css", "/static/live/page.js"):
        answer = http.get(f"{base}{path}", headers=zipped, timeout=10, stream=True)
        assert answer.headers.get("Content-Encoding") == "gzip", path
        answer.close()

    # HSTS on every HTTPS answer, errors included; private answers are never stored
    missing = http.get(f"{base}/api/tasks/999", headers=auth, timeout=10)
    assert missing.status_code == 404
    answers = [registered, login, uploaded, page, missing]
    assert [r.headers.get("Strict-Transport-Security") for r in answers] == [HSTS] * 5
    assert [r.headers.get("Cache-Control") for r in answers] == ["no-store"] * 5


def test_a_page_on_the_public_origin_opens_a_socket_through_nginx(through_nginx):
    base, http = through_nginx
    body = {"username": "bob", "email": "bob@example.com", "password": "secret123"}
    registered = http.post(f"{base}/api/register", json=body, timeout=10)
    assert registered.status_code == 201, registered.text
    login = http.post(
        f"{base}/api/login", json={"username": "bob", "password": "secret123"},
        timeout=10,
    ).json()  # fmt: skip
    listener = Listener(origin=base)
    listener.client.eio.ssl_verify = False
    try:
        # A longer wait than elsewhere: the full suite's last minutes are its busiest.
        listener.connect(base, auth={"token": login["token"]}, wait=20)
        created = http.post(
            f"{base}/api/tasks", json={"title": "Live through nginx"},
            headers={"Authorization": f"Bearer {login['token']}"}, timeout=10,
        ).json()  # fmt: skip
        assert listener.expect("task_created")["id"] == created["id"]
    finally:
        listener.close()


def test_a_client_with_default_options_polls_then_upgrades_through_nginx(through_nginx):
    """Long-polling first, as the JavaScript client does by default: every request of the
    session reaches the one process holding it (``hash $remote_addr``), then the
    WebSocket upgrade does too."""
    base, http = through_nginx
    body = {"username": "carol", "email": "carol@example.com", "password": "secret123"}
    assert http.post(f"{base}/api/register", json=body, timeout=10).status_code == 201
    token = http.post(
        f"{base}/api/login", json={"username": "carol", "password": "secret123"}, timeout=10
    ).json()["token"]
    # The fixture's session: it trusts the throwaway certificate, whatever the environment.
    client = socketio.Client(reconnection=False, http_session=http)
    events: queue.Queue[dict] = queue.Queue()
    client.on("task_created", events.put)
    client.connect(base, auth={"token": token}, wait_timeout=WAIT)  # default transports
    try:
        deadline = time.monotonic() + WAIT
        while client.transport() != "websocket":  # the upgrade, through nginx too
            assert time.monotonic() < deadline, "never upgraded to WebSocket"
            client.sleep(0.05)
        for n in range(3):  # several polls and posts of one session, then the upgrade
            created = http.post(
                f"{base}/api/tasks", json={"title": f"Polled {n}"},
                headers={"Authorization": f"Bearer {token}"}, timeout=10,
            ).json()  # fmt: skip
            assert events.get(timeout=WAIT)["id"] == created["id"]
    finally:
        client.disconnect()
