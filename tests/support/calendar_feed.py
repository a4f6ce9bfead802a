"""Calendar feeds for tests: made through the API, fetched and parsed with
``icalendar`` as a calendar app would; and task columns written straight to the
database, for what the API would refuse."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import icalendar
import sqlalchemy as sa
from flask import Flask

from doable.extensions import db
from doable.tasks.models import Task
from tests.support.factories import Account, ApiClient


def new_feed(api: ApiClient, account: Account) -> dict[str, Any]:
    """``account`` makes its feed; the answer, URL and token included."""
    response = api.post("/api/calendar/feed", account.token)
    assert response.status_code == 201, response.get_json()
    return response.json  # type: ignore[no-any-return]


def path_of(url: str) -> str:
    """The feed URL's path, for Flask's test client."""
    return urlsplit(url).path


def read_feed(api: ApiClient, url: str) -> icalendar.Calendar:
    """The feed at ``url``, fetched without any other credential and parsed."""
    response = api.client.get(path_of(url))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(response.get_data())


def events_by_summary(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


def set_task(app: Flask, task_id: int, **columns: Any) -> None:
    """Write task columns directly, for what the API would refuse (a zone the IANA
    database has dropped since)."""
    with app.app_context():
        db.session.execute(sa.update(Task).where(Task.id == task_id).values(**columns))
        db.session.commit()


#: A feed token of the right shape: ``dcal_``, the 8 characters the logs keep, and 35
#: they must never write.
SECRET_TAIL = "x" * 35
LOGGED_TOKEN = "dcal_Secret12" + SECRET_TAIL
LOGGED_FEED_PATH = f"/api/calendar/{LOGGED_TOKEN}.ics"


def assert_feed_token_cut(log_text: str, message: str) -> None:
    """``message`` was logged for ``LOGGED_FEED_PATH`` with the token cut to its prefix,
    and no line holds the rest of the token."""
    assert f"{message} (/api/calendar/dcal_Secret12….ics)" in log_text
    assert SECRET_TAIL not in log_text
