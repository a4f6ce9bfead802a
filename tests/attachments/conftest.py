"""Fixtures the attachment test modules share."""

from __future__ import annotations

import pytest

from tests.support.attachments import new_task
from tests.support.factories import Account, ApiClient


@pytest.fixture
def task_id(api: ApiClient, alice: Account) -> int:
    return new_task(api, alice)
