"""Fixtures the sharing test modules share."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import Account, ApiClient
from tests.support.sharing import add_task


@pytest.fixture
def task(api: ApiClient, alice: Account) -> dict[str, Any]:
    return add_task(api, alice)
