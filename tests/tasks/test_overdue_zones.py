"""``overdue``, ``due_before`` and ``due_after`` reckoned in the viewer's zone (docs/api.md,
Time zones and recurrence), at the edges of the day for a viewer at UTC-8 (Los Angeles
in January) and one at UTC+10 (Brisbane): one task shared between them, each seeing
their own answer, in the list's filters and on the pages' ``Task.overdue``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask

from doable.auth.models import User
from doable.extensions import db
from doable.tasks import service
from tests.support.factories import Account, ApiClient, share
from tests.support.tasks import create, listed_ids, set_zone


def two_viewers(api: ApiClient, app: Flask, **fields: Any) -> tuple[Account, Account, int]:
    """A task of a Los Angeles owner (``fields``) shared with a Brisbane user."""
    owner, sharee = api.account("angeleno"), api.account("brisbanite")
    set_zone(app, owner, "America/Los_Angeles")
    set_zone(app, sharee, "Australia/Brisbane")
    task = create(api, owner, **fields)
    share(api, owner, task["id"], sharee, "edit")
    return owner, sharee, task["id"]


def sees_overdue(api: ApiClient, app: Flask, account: Account, task_id: int) -> bool:
    """Whether ``account`` sees the task overdue: in ``overdue=true``, out of
    ``overdue=false``, and so on the pages (``Task.overdue``), all agreeing."""
    late = task_id in listed_ids(api, account, overdue="true")
    assert late != (task_id in listed_ids(api, account, overdue="false"))
    with app.app_context():
        user = db.session.get(User, account.id)
        assert user is not None
        page = service.list_tasks(user=user, per_page=100)
        assert [task.overdue for task in page.tasks if task.id == task_id] == [late]
    return late


@pytest.mark.parametrize(
    ("now", "in_los_angeles", "in_brisbane"),
    [
        (datetime(2026, 1, 15, 13, 59, tzinfo=UTC), False, False),  # 23:59 on the 15th, AEST
        (datetime(2026, 1, 15, 14, 0, tzinfo=UTC), False, True),  # the 16th began in Brisbane
        (datetime(2026, 1, 16, 7, 59, tzinfo=UTC), False, True),  # 23:59 on the 15th, PST
        (datetime(2026, 1, 16, 8, 0, tzinfo=UTC), True, True),  # the 16th began in LA
    ],
)
def test_a_date_only_task_is_overdue_once_the_viewers_date_is_past_it(
    api: ApiClient, app: Flask, now: datetime, in_los_angeles: bool, in_brisbane: bool
) -> None:
    with time_machine.travel(now, tick=False):
        owner, sharee, task_id = two_viewers(api, app, due_date="2026-01-15")

        assert sees_overdue(api, app, owner, task_id) is in_los_angeles
        assert sees_overdue(api, app, sharee, task_id) is in_brisbane


@pytest.mark.parametrize(
    ("now", "late"),
    [
        (datetime(2026, 1, 15, 16, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 1, 15, 17, 0, 1, tzinfo=UTC), True),  # 09:00 PST has passed
    ],
)
def test_a_timed_task_is_overdue_for_everyone_once_its_instant_passed(
    api: ApiClient, app: Flask, now: datetime, late: bool
) -> None:
    with time_machine.travel(now, tick=False):
        owner, sharee, task_id = two_viewers(api, app, due_date="2026-01-15", due_time="09:00")

        assert sees_overdue(api, app, owner, task_id) is late
        assert sees_overdue(api, app, sharee, task_id) is late


def test_a_completed_task_is_never_overdue(api: ApiClient, app: Flask) -> None:
    with time_machine.travel(datetime(2026, 1, 20, tzinfo=UTC), tick=False):
        owner, sharee, task_id = two_viewers(api, app, due_date="2026-01-15", status="completed")

        assert sees_overdue(api, app, owner, task_id) is False
        assert sees_overdue(api, app, sharee, task_id) is False


@pytest.mark.parametrize(
    ("params", "in_los_angeles", "in_brisbane"),
    [
        # due 09:00 PST on the 15th: 03:00 on the 16th in Brisbane
        ({"due_before": "2026-01-15"}, True, False),
        ({"due_after": "2026-01-16"}, False, True),
        ({"due_after": "2026-01-15", "due_before": "2026-01-15"}, True, False),
        ({"due_after": "2026-01-16", "due_before": "2026-01-16"}, False, True),
    ],
)
def test_due_before_and_after_take_a_timed_task_on_the_viewers_date(
    api: ApiClient,
    app: Flask,
    params: dict[str, str],
    in_los_angeles: bool,
    in_brisbane: bool,
) -> None:
    owner, sharee, task_id = two_viewers(api, app, due_date="2026-01-15", due_time="09:00")

    assert (task_id in listed_ids(api, owner, **params)) is in_los_angeles
    assert (task_id in listed_ids(api, sharee, **params)) is in_brisbane


def test_due_before_and_after_take_a_date_only_task_on_its_date(api: ApiClient, app: Flask) -> None:
    owner, sharee, task_id = two_viewers(api, app, due_date="2026-01-15")

    for account in (owner, sharee):
        assert task_id in listed_ids(api, account, due_before="2026-01-15")
        assert task_id in listed_ids(api, account, due_after="2026-01-15")
        assert task_id not in listed_ids(api, account, due_before="2026-01-14")
        assert task_id not in listed_ids(api, account, due_after="2026-01-16")


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_due_filters_at_the_calendars_ends_answer(api: ApiClient, app: Flask, day: str) -> None:
    owner, sharee, task_id = two_viewers(api, app, due_date="2026-01-15", due_time="09:00")

    for account in (owner, sharee):
        before = listed_ids(api, account, due_before=day)
        after = listed_ids(api, account, due_after=day)
        assert (task_id in before, task_id in after) == (day > "2026", day < "2026")
