"""``POST /api/tasks/parse`` (docs/api.md, "Quick add"): what a line would create, in
the user's zone and on their today, and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from doable.tasks import recurrence
from tests.support.api_tokens import new_token
from tests.support.factories import Account, ApiClient, assert_problem
from tests.support.tasks import create, set_zone, task_count

pytestmark = pytest.mark.usefixtures("app")


def _today(zone_name: str) -> str:
    return recurrence.today_in(recurrence.zone(zone_name)).isoformat()


def test_parse_answers_a_create_body_and_the_parts(
    api: ApiClient, app: Flask, alice: Account
) -> None:
    set_zone(app, alice, "Europe/Berlin")
    text = "Pay rent tomorrow 9am #home !high"

    response = api.post("/api/tasks/parse", alice.token, json={"text": text})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    tomorrow = (
        datetime.fromisoformat(_today("Europe/Berlin")).date() + timedelta(days=1)
    ).isoformat()
    assert body == {
        "title": "Pay rent",
        "due_date": tomorrow,
        "due_time": "09:00",
        "categories": ["home"],
        "priority": "high",
        "parts": [
            {"kind": "date", "text": "tomorrow", "start": 9, "end": 17, "value": tomorrow},
            {"kind": "time", "text": "9am", "start": 18, "end": 21, "value": "09:00"},
            {"kind": "category", "text": "#home", "start": 22, "end": 27, "value": "home"},
            {"kind": "priority", "text": "!high", "start": 28, "end": 33, "value": "high"},
        ],
    }
    # the body, parts left out, is one POST /api/tasks takes as it is
    del body["parts"]
    created = create(api, alice, **body)
    assert (created["title"], created["due_date"], created["due_time"]) == (
        "Pay rent",
        tomorrow,
        "09:00",
    )


def test_parse_leaves_priority_out_when_none_is_given(api: ApiClient, alice: Account) -> None:
    response = api.post("/api/tasks/parse", alice.token, json={"text": "Buy milk"})

    assert response.get_json() == {
        "title": "Buy milk",
        "due_date": None,
        "due_time": None,
        "categories": [],
        "parts": [],
    }


def test_parse_writes_nothing(api: ApiClient, app: Flask, alice: Account) -> None:
    create(api, alice, title="Already there")
    before = task_count(app)

    response = api.post("/api/tasks/parse", alice.token, json={"text": "New #brandnew today"})

    assert response.status_code == 200
    assert task_count(app) == before
    categories = api.get("/api/categories", alice.token).get_json()["categories"]
    assert [c["name"] for c in categories] == []


def test_parse_reckons_today_in_each_users_zone(
    api: ApiClient, app: Flask, alice: Account, bob: Account
) -> None:
    """UTC+14 and UTC-11 are 25 hours apart: at any one instant their dates differ."""
    set_zone(app, alice, "Pacific/Kiritimati")
    set_zone(app, bob, "Pacific/Pago_Pago")
    started = datetime.now(UTC)

    early = api.post("/api/tasks/parse", alice.token, json={"text": "x today"}).get_json()
    late = api.post("/api/tasks/parse", bob.token, json={"text": "x today"}).get_json()

    for zone_name, body in (("Pacific/Kiritimati", early), ("Pacific/Pago_Pago", late)):
        tz = recurrence.zone(zone_name)
        possible = {recurrence.today_in(tz, started), recurrence.today_in(tz)}
        assert datetime.fromisoformat(body["due_date"]).date() in possible
    assert early["due_date"] > late["due_date"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"text": 5}, "text"),
        ({"text": "x", "title": "y"}, "title"),
    ],
)
def test_parse_refuses_a_bad_body_with_400(
    api: ApiClient, alice: Account, body: dict[str, object], field: str
) -> None:
    response = api.post("/api/tasks/parse", alice.token, json=body)

    problem = assert_problem(response, 400)
    assert field in problem["errors"]


def test_parse_takes_500_characters(api: ApiClient, alice: Account) -> None:
    response = api.post("/api/tasks/parse", alice.token, json={"text": "x" * 500})

    assert response.status_code == 200
    assert response.get_json()["title"] == "x" * 500


def test_parse_takes_an_api_token_with_tasks_read(api: ApiClient, alice: Account) -> None:
    reader = new_token(api, alice, ["tasks:read"])["token"]
    events = new_token(api, alice, ["events:read"])["token"]

    allowed = api.post("/api/tasks/parse", reader, json={"text": "Buy milk !low"})
    refused = api.post("/api/tasks/parse", events, json={"text": "Buy milk !low"})

    assert allowed.status_code == 200
    assert allowed.get_json()["priority"] == "low"
    assert assert_problem(refused, 403)["required_scope"] == "tasks:read"


def test_parse_needs_a_token(api: ApiClient) -> None:
    response = api.client.post("/api/tasks/parse", json={"text": "Buy milk"})

    assert_problem(response, 401)


def test_parse_documents_priority_as_sometimes_there(spec: dict[str, Any]) -> None:
    shape = spec["components"]["schemas"]["QuickTaskRead"]

    assert shape["required"] == ["title", "due_date", "due_time", "categories", "parts"]
    operation = spec["paths"]["/api/tasks/parse"]["post"]
    assert operation["x-required-scope"] == "tasks:read"


def test_parse_takes_today_from_the_clock_today_and_upcoming_use(
    api: ApiClient, app: Flask, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``doable.db.utcnow`` is the one clock of "today" (agenda.py reads it too): set it
    to 23:30 UTC on 15 June 2030, and Berlin's today is the 16th, whatever the machine
    says."""
    set_zone(app, alice, "Europe/Berlin")
    monkeypatch.setattr(
        "doable.tasks.service.utcnow", lambda: datetime(2030, 6, 15, 23, 30, tzinfo=UTC)
    )

    body = api.post("/api/tasks/parse", alice.token, json={"text": "Pay today"}).get_json()

    assert body["due_date"] == "2030-06-16"


def test_parse_leaves_a_date_task_creation_refuses_in_the_title(
    api: ApiClient, alice: Account
) -> None:
    response = api.post("/api/tasks/parse", alice.token, json={"text": "End dec 31 9999"})

    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["due_date"], body["parts"]) == ("End dec 31 9999", None, [])
    del body["parts"]
    assert create(api, alice, **body)["title"] == "End dec 31 9999"
